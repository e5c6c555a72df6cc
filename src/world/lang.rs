//! Natural-language instructions: referring expressions and instruction templates.
//!
//! Every template and referring-expression form has an id. Those marked `test_only` are used only
//! when generating the test split, so that a model or a rule cannot key on one phrasing.
use super::rng::Rng;
use super::scene::{Background, Object, Scene, Size, Style, Support, Texture};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn as_u64(self) -> u64 {
        match self {
            Split::Train => 1,
            Split::Test => 2,
        }
    }
}

/// One phrasing. Slots are written `{name}`.
#[derive(Clone, Copy, Debug)]
pub struct Template {
    pub id: &'static str,
    pub text: &'static str,
    pub test_only: bool,
}

const fn t(id: &'static str, text: &'static str) -> Template {
    Template {
        id,
        text,
        test_only: false,
    }
}
const fn x(id: &'static str, text: &'static str) -> Template {
    Template {
        id,
        text,
        test_only: true,
    }
}

pub const RECOLOUR: &[Template] = &[
    t("recolour.make", "make {obj} {colour}"),
    t("recolour.paint", "paint {obj} {colour}"),
    t("recolour.turn", "turn {obj} {colour}"),
    t("recolour.change", "change the colour of {obj} to {colour}"),
    t("recolour.recolour", "recolour {obj} {colour}"),
    t("recolour.should", "{obj} should be {colour}"),
    t("recolour.in", "colour {obj} in {colour}"),
    x("recolour.repaint", "repaint {obj} so it is {colour}"),
    x("recolour.coat", "give {obj} a coat of {colour} paint"),
];

pub const RETEXTURE: &[Template] = &[
    t("retexture.give", "give {obj} {texture_noun}"),
    t("retexture.make", "make {obj} {texture_adj}"),
    t("retexture.put", "put {texture_noun} on {obj}"),
    t(
        "retexture.change",
        "change the pattern of {obj} to {texture_noun}",
    ),
    x("retexture.decorate", "decorate {obj} with {texture_noun}"),
];

pub const STYLE: &[Template] = &[
    t("style.render", "render the scene in {adj} style"),
    t("style.look", "make the picture look {adj}"),
    t("style.switch", "switch to {a_adj} look"),
    t("style.redraw", "redraw everything in {a_adj} style"),
    t("style.convert", "convert the image to {a_adj} rendering"),
    x("style.restyle", "restyle the whole image so it looks {adj}"),
];

pub const BACKGROUND: &[Template] = &[
    t("background.change", "change the background to {bg}"),
    t("background.make", "make the background {bg}"),
    t("background.replace", "replace the background with {bg}"),
    t("background.use", "use {bg} as the backdrop"),
    t("background.set", "set the backdrop to {bg}"),
    x(
        "background.swap",
        "swap the scenery behind the objects for {bg}",
    ),
];

pub const ADD: &[Template] = &[
    t("add.add", "add {new} {place}"),
    t("add.put", "put {new} {place}"),
    t("add.place", "place {new} {place}"),
    t("add.front", "{place}, add {new}"),
    t("add.insert", "insert {new} {place}"),
    x("add.include", "include {new} {place}"),
    x("add.setdown", "set down {new} {place}"),
];

pub const REMOVE: &[Template] = &[
    t("remove.remove", "remove {obj}"),
    t("remove.delete", "delete {obj}"),
    t("remove.takeaway", "take away {obj}"),
    t("remove.erase", "erase {obj}"),
    t("remove.getrid", "get rid of {obj}"),
    x("remove.disappear", "make {obj} disappear"),
    x("remove.clear", "clear away {obj}"),
];

pub const REPLACE: &[Template] = &[
    t("replace.replace", "replace {obj} with {new}"),
    t("replace.swap", "swap {obj} for {new}"),
    t("replace.turn", "turn {obj} into {new}"),
    t("replace.change", "change {obj} into {new}"),
    t("replace.where", "put {new} where {obj} is"),
    x("replace.exchange", "exchange {obj} for {new}"),
    x("replace.substitute", "substitute {new} for {obj}"),
];

pub const EXTRACT: &[Template] = &[
    t("extract.extract", "extract {obj}"),
    t("extract.isolate", "isolate {obj} on a white background"),
    t("extract.only", "show only {obj} on white"),
    t("extract.cut", "cut out {obj}"),
    t(
        "extract.keep",
        "keep only {obj} on a plain white background",
    ),
    x("extract.pull", "pull {obj} out onto a blank white canvas"),
];

pub const PUSH: &[Template] = &[
    t("push.push", "push {obj} to the {dir}"),
    t("push.slide", "slide {obj} {dir} until it hits something"),
    t("push.shove", "shove {obj} to the {dir}"),
    t("push.give", "give {obj} a push to the {dir}"),
    t("push.move", "move {obj} {dir} as far as it goes"),
    x("push.nudge", "nudge {obj} towards the {dir} until it stops"),
];

pub const DROP: &[Template] = &[
    t("drop.drop", "drop {obj}"),
    t("drop.cut", "cut the string holding {obj}"),
    t("drop.fall", "let {obj} fall"),
    t("drop.release", "release {obj}"),
    x("drop.snip", "snip the cord so {obj} comes down"),
];

pub const ROLL: &[Template] = &[
    t("roll.roll", "roll {obj} down the ramp"),
    t("roll.let", "let {obj} roll down the ramp"),
    t("roll.push", "push {obj} down the slope"),
    t("roll.send", "send {obj} rolling down the ramp"),
    x("roll.incline", "set {obj} rolling off the incline"),
];

pub const TOPPLE: &[Template] = &[
    t("topple.topple", "topple the stack on {base} to the {dir}"),
    t(
        "topple.knock",
        "knock over the stack on {base} towards the {dir}",
    ),
    t("topple.tip", "tip the tower on {base} over to the {dir}"),
    t("topple.push", "push the pile on {base} over to the {dir}"),
    x(
        "topple.bring",
        "bring down the tower standing on {base}, falling {dir}",
    ),
];

pub const STACK: &[Template] = &[
    t("stack.stack", "stack {a} on {b}"),
    t("stack.put", "put {a} on top of {b}"),
    t("stack.place", "place {a} onto {b}"),
    t("stack.lift", "lift {a} onto {b}"),
    t("stack.move", "move {a} on top of {b}"),
    x("stack.pile", "pile {a} up on {b}"),
];

pub const COMPOSE: &[Template] = &[
    t("compose.and", "{c1} and {c2}"),
    t("compose.then", "{c1}, then {c2}"),
    t("compose.first", "first {c1}, then {c2}"),
    t("compose.also", "{c1} and also {c2}"),
    x("compose.after", "{c1}; after that, {c2}"),
];

/// All template tables (for tests and documentation).
pub const ALL_TABLES: &[&[Template]] = &[
    RECOLOUR, RETEXTURE, STYLE, BACKGROUND, ADD, REMOVE, REPLACE, EXTRACT, PUSH, DROP, ROLL,
    TOPPLE, STACK, COMPOSE,
];

/// Referring-expression forms reserved for the test split (fixed text, see `refer`).
pub const TEST_ONLY_REF_MARKERS: &[&str] = &[" coloured ", " sitting furthest to the "];

/// Pick a template for a split: train never sees a test-only one; test uses them half the time.
pub fn pick(rng: &mut Rng, table: &'static [Template], split: Split) -> &'static Template {
    let shared: Vec<&Template> = table.iter().filter(|t| !t.test_only).collect();
    let reserved: Vec<&Template> = table.iter().filter(|t| t.test_only).collect();
    if split == Split::Test && !reserved.is_empty() && rng.chance(0.5) {
        reserved[rng.below(reserved.len())]
    } else {
        shared[rng.below(shared.len())]
    }
}

/// Fill a template's slots.
pub fn fill(tpl: &Template, slots: &[(&str, &str)]) -> String {
    let mut s = tpl.text.to_string();
    for (k, v) in slots {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub fn size_word(rng: &mut Rng, s: Size) -> Option<&'static str> {
    match s {
        Size::Small => Some(*rng.pick(&["small", "little"])),
        Size::Large => Some(*rng.pick(&["big", "large"])),
        Size::Medium => None,
    }
}

/// Description of a new object: "a small red ball".
pub fn new_object(rng: &mut Rng, o: &Object) -> String {
    let size = size_word(rng, o.size);
    let art = |w: &str| {
        if w.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        }
    };
    match size {
        Some(sw) if rng.chance(0.6) => {
            format!("{} {sw} {} {}", art(sw), o.colour.name(), o.shape.name())
        }
        _ => format!(
            "{} {} {}",
            art(o.colour.name()),
            o.colour.name(),
            o.shape.name()
        ),
    }
}

/// A uniquely identifying expression for object `id`: (form id, text). None if no form is unique.
pub fn refer(rng: &mut Rng, scene: &Scene, id: u32, split: Split) -> Option<(String, String)> {
    let o = scene.get(id)?;
    let others: Vec<&Object> = scene.objects.iter().filter(|p| p.id != id).collect();
    let shape = o.shape.name();
    let colour = o.colour.name();
    let mut cands: Vec<(String, String)> = Vec::new();
    let same_cs = others
        .iter()
        .any(|p| p.shape == o.shape && p.colour == o.colour);
    let same_shape: Vec<&&Object> = others.iter().filter(|p| p.shape == o.shape).collect();
    let same_colour = others.iter().any(|p| p.colour == o.colour);
    if !same_cs {
        cands.push(("ref.colour_shape".into(), format!("the {colour} {shape}")));
        if split == Split::Test {
            cands.push((
                "ref.coloured".into(),
                format!("the {shape} coloured {colour}"),
            ));
        }
    }
    if same_shape.is_empty() {
        cands.push(("ref.shape".into(), format!("the {shape}")));
    }
    if !same_colour {
        let w = *rng.pick(&["one", "object", "thing"]);
        cands.push(("ref.colour".into(), format!("the {colour} {w}")));
    }
    if !same_shape.is_empty() && same_shape.iter().all(|p| p.size != o.size) {
        let smallest = same_shape.iter().all(|p| p.size > o.size);
        let largest = same_shape.iter().all(|p| p.size < o.size);
        if smallest {
            let w = *rng.pick(&["small", "smaller", "little"]);
            cands.push(("ref.size".into(), format!("the {w} {shape}")));
        } else if largest {
            let w = *rng.pick(&["big", "bigger", "large"]);
            cands.push(("ref.size".into(), format!("the {w} {shape}")));
        }
    }
    if !same_shape.is_empty() {
        if same_shape.iter().all(|p| p.x > o.x + 0.02) {
            cands.push(("ref.leftmost".into(), format!("the leftmost {shape}")));
            if split == Split::Test {
                cands.push((
                    "ref.furthest".into(),
                    format!("the {shape} sitting furthest to the left"),
                ));
            }
        }
        if same_shape.iter().all(|p| p.x < o.x - 0.02) {
            cands.push(("ref.rightmost".into(), format!("the rightmost {shape}")));
            if split == Split::Test {
                cands.push((
                    "ref.furthest".into(),
                    format!("the {shape} sitting furthest to the right"),
                ));
            }
        }
    }
    if !others.is_empty() && others.iter().all(|p| p.x > o.x + 0.02) {
        cands.push(("ref.leftmost_any".into(), "the leftmost object".into()));
    }
    if !others.is_empty() && others.iter().all(|p| p.x < o.x - 0.02) {
        cands.push((
            "ref.rightmost_any".into(),
            "the object furthest to the right".into(),
        ));
    }
    match scene.support(o) {
        Some(Support::On(b)) => {
            let base = scene.get(b)?;
            let base_unique = !others
                .iter()
                .any(|p| p.id != b && p.shape == base.shape && p.colour == base.colour);
            if base_unique {
                let on_same = others
                    .iter()
                    .filter(|p| scene.support(p) == Some(Support::On(b)))
                    .count();
                if on_same == 0 {
                    cands.push((
                        "ref.on_top_of".into(),
                        format!(
                            "the {shape} on top of the {} {}",
                            base.colour.name(),
                            base.shape.name()
                        ),
                    ));
                }
            }
            // "the small one on top": the only stacked object of its size.
            let stacked_same_size = others
                .iter()
                .filter(|p| matches!(scene.support(p), Some(Support::On(_))) && p.size == o.size)
                .count();
            if stacked_same_size == 0 {
                if let Some(sw) = size_word(rng, o.size) {
                    cands.push(("ref.size_on_top".into(), format!("the {sw} one on top")));
                }
            }
        }
        Some(Support::String) => {
            if !others.iter().any(|p| p.hanging) {
                cands.push(("ref.hanging".into(), format!("the hanging {shape}")));
                cands.push(("ref.string".into(), format!("the {shape} on the string")));
            }
        }
        Some(Support::Ramp) => {
            cands.push(("ref.ramp".into(), format!("the {shape} on the ramp")));
        }
        _ => {}
    }
    if cands.is_empty() {
        return None;
    }
    let i = rng.below(cands.len());
    Some(cands.swap_remove(i))
}

pub fn texture_words(rng: &mut Rng, t: Texture) -> (&'static str, &'static str) {
    match t {
        Texture::Solid => ("a plain finish", "plain"),
        Texture::Stripes => (*rng.pick(&["stripes", "a striped pattern"]), "striped"),
        Texture::Dots => (*rng.pick(&["dots", "polka dots"]), "dotted"),
    }
}

pub fn style_word(rng: &mut Rng, s: Style) -> &'static str {
    match s {
        Style::Flat => *rng.pick(&["flat", "clean"]),
        Style::Outlined => *rng.pick(&["outlined", "inked"]),
        Style::Pixelated => *rng.pick(&["pixelated", "blocky"]),
        Style::Noisy => *rng.pick(&["noisy", "grainy"]),
    }
}

/// "a flat", "an outlined", ...
pub fn with_article(w: &str) -> String {
    if w.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {w}")
    } else {
        format!("a {w}")
    }
}

pub fn background_words(rng: &mut Rng, b: &Background) -> String {
    match *b {
        Background::Plain { colour } => {
            if rng.chance(0.5) {
                format!("plain {}", colour.name())
            } else {
                format!("a plain {} wall", colour.name())
            }
        }
        Background::Gradient { top, bottom } => {
            if rng.chance(0.5) {
                format!(
                    "a gradient from {} at the top to {} at the bottom",
                    top.name(),
                    bottom.name()
                )
            } else {
                format!("a {}-to-{} vertical gradient", top.name(), bottom.name())
            }
        }
        Background::Stripes { a, b } => format!("diagonal {} and {} stripes", a.name(), b.name()),
        Background::Checker { a, b } => format!("a {} and {} checkerboard", a.name(), b.name()),
    }
}
