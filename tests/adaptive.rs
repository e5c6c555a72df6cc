//! CARD, plans, recipes, temporal positions and the FLOP cost model.
use std::path::Path;

use physedit::adaptive::card::{
    analyze, CardInput, Category, ImageCues, Predictor, RulePredictor, Tier,
};
use physedit::adaptive::cost::{
    edit_cost, image_encode, text_encode, tokens_per_frame, transformer_forward, vae_decode,
    vae_encode, CostOptions, ModelDims,
};
use physedit::adaptive::learned::{mean_pool, CardExample, FitOptions, LearnedPredictor};
use physedit::adaptive::plan::{plan_for, temporal_positions, Plan, PlanTable, Recipe};
use physedit::eval::confusion::Confusion;
use physedit::suite::load_suite;

/// Development set A: hand-written phrasings (prompt, category, tier), written before the rule lexicon
/// existed and then used while developing the rules, so it is NOT held out. Nothing is taken from or
/// modelled on ImgEdit's basic_edit.json. Convention: an edit whose main content is a physical process
/// (falling, pouring, melting, ...) is labelled `action`, tier high.
const DEV_A: &[(&str, &str, &str)] = &[
    // add
    (
        "can you put a little red balloon in the kid's hand",
        "add",
        "mid",
    ),
    ("throw in a couple of seagulls over the water", "add", "mid"),
    ("I'd love to see a rainbow across the sky", "add", "mid"),
    ("give the old man a bushy white beard", "add", "mid"),
    ("there should be a cat sleeping on the couch", "add", "mid"),
    ("stick a party hat on the dog", "add", "mid"),
    ("include a small wooden boat near the shore", "add", "mid"),
    ("add some fireflies glowing around the tree", "add", "mid"),
    ("pop a pair of sunglasses on her face", "add", "mid"),
    ("draw a mustache on the statue", "add", "mid"),
    // remove
    ("get rid of the trash can on the left", "remove", "mid"),
    ("erase the watermark in the corner", "remove", "mid"),
    ("take the people out of the background", "remove", "mid"),
    (
        "can you clean up the power lines from the sky",
        "remove",
        "mid",
    ),
    ("I don't want the car in this picture", "remove", "mid"),
    ("lose the sunglasses", "remove", "mid"),
    ("delete every bird from the photo", "remove", "mid"),
    ("make the lamp post disappear", "remove", "mid"),
    ("no text on the sign please", "remove", "mid"),
    ("wipe the graffiti off the wall", "remove", "mid"),
    // replace
    ("swap the dog for a fluffy white cat", "replace", "mid"),
    ("turn the teddy bear into a real puppy", "replace", "mid"),
    (
        "instead of the coffee cup, show a glass of orange juice",
        "replace",
        "mid",
    ),
    ("change the bicycle to a motorbike", "replace", "mid"),
    (
        "replace his baseball cap with a cowboy hat",
        "replace",
        "mid",
    ),
    ("switch out the roses for sunflowers", "replace", "mid"),
    (
        "the car should be a horse carriage instead",
        "replace",
        "mid",
    ),
    (
        "exchange the laptop on the desk for a stack of books",
        "replace",
        "mid",
    ),
    ("make the pizza a birthday cake", "replace", "mid"),
    (
        "substitute the wooden chair with a modern office chair",
        "replace",
        "mid",
    ),
    // adjust
    ("make the car bright yellow", "adjust", "low"),
    ("darken the whole image a bit", "adjust", "low"),
    (
        "can the dress be made of shiny silver sequins",
        "adjust",
        "low",
    ),
    ("boost the saturation and contrast", "adjust", "low"),
    ("give the wall a rough brick texture", "adjust", "low"),
    ("make the apples look greener", "adjust", "low"),
    ("warm up the lighting", "adjust", "low"),
    (
        "the sky looks too grey, make it a vivid blue",
        "adjust",
        "low",
    ),
    ("make the cat's fur look fluffier", "adjust", "low"),
    ("recolor the sofa to navy", "adjust", "low"),
    // style
    ("make it look like a Van Gogh painting", "style", "low"),
    ("redo this photo as a pencil sketch", "style", "low"),
    ("anime version of this please", "style", "low"),
    ("render the scene in pixel art", "style", "low"),
    ("turn this into a watercolor", "style", "low"),
    ("give it a 1980s retro comic book look", "style", "low"),
    (
        "can you make this look like a Pixar movie still",
        "style",
        "low",
    ),
    ("convert to a charcoal drawing", "style", "low"),
    ("in the style of Studio Ghibli", "style", "low"),
    (
        "make the photo look like an old oil painting from the renaissance",
        "style",
        "low",
    ),
    // background
    ("put her on a tropical beach", "background", "low"),
    (
        "change the backdrop to a city skyline at night",
        "background",
        "low",
    ),
    (
        "swap the background for a snowy forest",
        "background",
        "low",
    ),
    ("I want the dog to be in outer space", "background", "low"),
    (
        "move the couple to the streets of paris",
        "background",
        "low",
    ),
    (
        "make the scenery behind the car a desert",
        "background",
        "low",
    ),
    (
        "replace the wall behind him with bookshelves",
        "background",
        "low",
    ),
    (
        "set the scene in a futuristic neon city",
        "background",
        "low",
    ),
    (
        "the setting should be an autumn park instead of the studio",
        "background",
        "low",
    ),
    ("blur out the background a lot", "background", "low"),
    // extract
    (
        "isolate the red sneaker on a plain white background",
        "extract",
        "mid",
    ),
    ("cut out the cat", "extract", "mid"),
    ("just give me the handbag, nothing else", "extract", "mid"),
    ("extract the guitar from the photo", "extract", "mid"),
    (
        "keep only the woman and remove everything else",
        "extract",
        "mid",
    ),
    (
        "pull the logo out onto a transparent background",
        "extract",
        "mid",
    ),
    ("segment out the car", "extract", "mid"),
    (
        "show me just the vase against a white backdrop",
        "extract",
        "mid",
    ),
    ("crop out the bird as a sticker", "extract", "mid"),
    ("remove the background around the dog", "extract", "mid"),
    // action (poses, gestures, expressions)
    ("make the man raise both arms", "action", "high"),
    ("have the girl wave at the camera", "action", "high"),
    ("let the dog sit down", "action", "high"),
    ("the woman should be laughing", "action", "high"),
    ("make him turn his head to the left", "action", "high"),
    ("get the cat to stretch", "action", "high"),
    ("show the boy jumping in the air", "action", "high"),
    ("she should have her arms crossed", "action", "high"),
    ("make the horse rear up on its hind legs", "action", "high"),
    ("the player is kicking the ball", "action", "high"),
    // physical dynamics
    (
        "make the glass of milk tip over and spill",
        "action",
        "high",
    ),
    ("let the ice cream melt in the sun", "action", "high"),
    (
        "the vase falls off the table and shatters",
        "action",
        "high",
    ),
    ("pour coffee into the empty mug", "action", "high"),
    ("bend the metal spoon", "action", "high"),
    ("open the laptop", "action", "high"),
    ("make the tree branch snap", "action", "high"),
    ("add a mug that is falling off the desk", "add", "high"),
    ("crack the egg into the pan", "action", "high"),
    ("burn the paper", "action", "high"),
    // several edits in one instruction
    ("remove the car and add a bicycle", "compose", "high"),
    (
        "change the background to a beach, then make the man smile",
        "compose",
        "high",
    ),
    (
        "replace the cat with a dog and make the sofa blue",
        "compose",
        "high",
    ),
    (
        "add a hat to the woman; also remove the lamp",
        "compose",
        "high",
    ),
    (
        "make it winter and put a snowman in the yard",
        "compose",
        "high",
    ),
    (
        "first erase the sign, second turn the sky orange",
        "compose",
        "high",
    ),
    (
        "swap the chair for a bench plus add a cat on it",
        "compose",
        "high",
    ),
    (
        "add sunglasses and change his shirt to red",
        "compose",
        "high",
    ),
    (
        "delete the tree, recolor the house to white",
        "compose",
        "high",
    ),
    (
        "get rid of the clouds. Then add a hot air balloon",
        "compose",
        "high",
    ),
];

/// Development set B: hand-written after the first version of the rules and first measured as a
/// held-out set (category 79 %, tier 83 %); its failures then guided general rule changes (noun/verb
/// disambiguation, quoted text, copulas, ...), so it is NOT held out any more. Nothing is taken from or
/// modelled on ImgEdit's basic_edit.json.
const DEV_B: &[(&str, &str, &str)] = &[
    // add
    (
        "Could you add a steaming cup of tea on the table next to her?",
        "add",
        "mid",
    ),
    ("put some candles on the birthday cake", "add", "mid"),
    ("i want a little puppy sitting by his feet", "add", "mid"),
    (
        "add a neon sign that says OPEN above the door",
        "add",
        "mid",
    ),
    ("the shelf looks empty, fill it with books", "add", "mid"),
    ("place a vase of tulips on the windowsill", "add", "mid"),
    ("give the snowman a carrot nose and a scarf", "add", "mid"),
    (
        "Insert a small airplane in the upper right sky.",
        "add",
        "mid",
    ),
    ("add freckles to her cheeks", "add", "mid"),
    ("a butterfly on the flower would be nice", "add", "mid"),
    // remove
    ("remove the person walking in the back", "remove", "mid"),
    (
        "Please erase all the cars parked along the street.",
        "remove",
        "mid",
    ),
    ("get the wires out of the shot", "remove", "mid"),
    ("delete the text at the bottom", "remove", "mid"),
    (
        "take away the umbrella from the man's hand",
        "remove",
        "mid",
    ),
    ("remove his glasses", "remove", "mid"),
    ("can we lose the logo on the shirt", "remove", "mid"),
    ("eliminate the shadow on the wall", "remove", "mid"),
    ("the photo bomber on the left needs to go", "remove", "mid"),
    ("clear the clutter off the desk", "remove", "mid"),
    // replace
    (
        "replace the apples in the bowl with oranges",
        "replace",
        "mid",
    ),
    ("swap her handbag for a backpack", "replace", "mid"),
    ("change the sedan into a pickup truck", "replace", "mid"),
    ("turn the lamp into a potted plant", "replace", "mid"),
    ("the dog should be a cat", "replace", "mid"),
    (
        "instead of a guitar he should be holding a violin",
        "replace",
        "mid",
    ),
    ("make the mug a wine glass", "replace", "mid"),
    ("change the hot dog to a hamburger", "replace", "mid"),
    ("substitute a lion for the house cat", "replace", "mid"),
    (
        "Replace the clock on the wall with a round mirror.",
        "replace",
        "mid",
    ),
    // adjust
    ("make her hair blonde", "adjust", "low"),
    ("increase the brightness a little", "adjust", "low"),
    (
        "change the color of the door to forest green",
        "adjust",
        "low",
    ),
    (
        "make the shirt look like it's made of denim",
        "adjust",
        "low",
    ),
    ("turn the leaves red and orange", "adjust", "low"),
    ("make the car look brand new and shiny", "adjust", "low"),
    ("make the whole picture warmer", "adjust", "low"),
    ("change it to nighttime", "adjust", "low"),
    ("make the building taller", "adjust", "low"),
    (
        "desaturate everything except the red umbrella",
        "adjust",
        "low",
    ),
    // style
    (
        "make this a Monet-style impressionist painting",
        "style",
        "low",
    ),
    ("cartoonify the photo", "style", "low"),
    ("turn it into a claymation scene", "style", "low"),
    ("render everything as low poly 3D", "style", "low"),
    ("ukiyo-e woodblock print please", "style", "low"),
    ("I want this to look like a comic strip", "style", "low"),
    (
        "make it look hand-drawn with colored pencils",
        "style",
        "low",
    ),
    ("give the image a cyberpunk art style", "style", "low"),
    (
        "convert the photo into a stained glass window design",
        "style",
        "low",
    ),
    (
        "Transform the picture into pop art like Andy Warhol.",
        "style",
        "low",
    ),
    // background
    (
        "change the background to a sunny beach",
        "background",
        "low",
    ),
    (
        "put the cat in a cozy living room instead",
        "background",
        "low",
    ),
    (
        "replace the backdrop with a starry night sky",
        "background",
        "low",
    ),
    ("make the background pure black", "background", "low"),
    (
        "swap the background for the Eiffel Tower",
        "background",
        "low",
    ),
    (
        "place him in the middle of a busy Tokyo street",
        "background",
        "low",
    ),
    ("new background: rolling green hills", "background", "low"),
    (
        "change the surroundings to a snowy mountain cabin",
        "background",
        "low",
    ),
    ("let the scene take place on the moon", "background", "low"),
    (
        "the background should be a library full of books",
        "background",
        "low",
    ),
    // extract
    ("extract the necklace", "extract", "mid"),
    ("isolate the person from the background", "extract", "mid"),
    ("cut the dog out and put it on white", "extract", "mid"),
    ("only keep the sneakers", "extract", "mid"),
    ("give me a cutout of the car", "extract", "mid"),
    (
        "extract the logo as a png with transparent background",
        "extract",
        "mid",
    ),
    ("separate the bird from everything else", "extract", "mid"),
    (
        "just the watch on a plain white background please",
        "extract",
        "mid",
    ),
    ("crop out the handbag", "extract", "mid"),
    (
        "pull out just the cake and remove everything around it",
        "extract",
        "mid",
    ),
    // action
    ("make her put her hands on her hips", "action", "high"),
    ("have the man give a thumbs up", "action", "high"),
    ("make the cat yawn", "action", "high"),
    (
        "he should be sitting cross-legged on the floor",
        "action",
        "high",
    ),
    ("let the kids high five each other", "action", "high"),
    ("make the dog roll over", "action", "high"),
    ("the girl is now waving goodbye", "action", "high"),
    ("make the bird spread its wings", "action", "high"),
    ("have him look up at the sky", "action", "high"),
    ("make the couple hold hands", "action", "high"),
    // dynamics
    ("the candle should be melting", "action", "high"),
    ("make the wine glass shatter on the floor", "action", "high"),
    ("water pouring out of the bottle", "action", "high"),
    ("the paper is crumpled into a ball", "action", "high"),
    ("knock the stack of plates over", "action", "high"),
    ("let the balloon pop", "action", "high"),
    ("the books fall off the shelf", "action", "high"),
    ("make the door swing open", "action", "high"),
    ("fold the shirt neatly", "action", "high"),
    ("the snowman is melting in the sun", "action", "high"),
    // multi-edit
    ("remove the hat and give him a beard", "compose", "high"),
    (
        "make the sky pink, add a moon, and remove the birds",
        "compose",
        "high",
    ),
    (
        "change the dress to blue and put a crown on her head",
        "compose",
        "high",
    ),
    ("delete the bench, then make it snow", "compose", "high"),
    (
        "replace the car with a bus and change the background to a city",
        "compose",
        "high",
    ),
    (
        "Add a dog. Also change the grass to sand.",
        "compose",
        "high",
    ),
    (
        "make it look like a watercolor and add a rainbow",
        "compose",
        "high",
    ),
    (
        "erase the people and make the lighting dramatic",
        "compose",
        "high",
    ),
    (
        "swap the cup for a bottle, and the plate for a bowl, then brighten it",
        "compose",
        "high",
    ),
    ("remove the sign; add a lamp post", "compose", "high"),
];

/// Held-out set C: written after the rules were final (after sets A and B had been used for
/// development) and evaluated once; no rule changes after its first measurement. Hand-written; nothing
/// taken from or modelled on ImgEdit's basic_edit.json.
const HELD_OUT_C: &[(&str, &str, &str)] = &[
    // add
    (
        "Can you add a red scarf around the snowman's neck?",
        "add",
        "mid",
    ),
    ("put a small sailboat on the horizon", "add", "mid"),
    ("add two more chairs around the dining table", "add", "mid"),
    ("I'd like some pink flowers in the empty vase", "add", "mid"),
    ("add a reflection of the moon in the lake", "add", "mid"),
    ("give the kid a pair of round glasses", "add", "mid"),
    ("add a shadow under the floating rock", "add", "mid"),
    ("stick a name tag on his shirt", "add", "mid"),
    // remove
    ("remove the bird from the branch", "remove", "mid"),
    ("erase the tourists behind the statue", "remove", "mid"),
    ("get rid of the wrinkles on the tablecloth", "remove", "mid"),
    (
        "please delete the power line crossing the sky",
        "remove",
        "mid",
    ),
    ("take the watch off her wrist", "remove", "mid"),
    ("remove all the leaves from the lawn", "remove", "mid"),
    ("I don't want any people in the shot", "remove", "mid"),
    (
        "can you remove the reflection in the window",
        "remove",
        "mid",
    ),
    // replace
    ("replace the moon with a giant planet", "replace", "mid"),
    ("swap the coffee for a glass of milk", "replace", "mid"),
    ("turn the soccer ball into a basketball", "replace", "mid"),
    ("change the cat to a fox", "replace", "mid"),
    ("the boat should be a submarine", "replace", "mid"),
    (
        "replace the painting on the wall with a window",
        "replace",
        "mid",
    ),
    ("make the teapot a watering can", "replace", "mid"),
    ("exchange the red car for a yellow taxi", "replace", "mid"),
    // adjust
    (
        "make the sky more dramatic with darker clouds",
        "adjust",
        "low",
    ),
    ("change the jacket to leather", "adjust", "low"),
    ("turn his hair gray", "adjust", "low"),
    ("lower the exposure", "adjust", "low"),
    ("make the roses white instead of red", "adjust", "low"),
    ("make the cake look chocolate", "adjust", "low"),
    ("sharpen the image", "adjust", "low"),
    ("make the house look older and weathered", "adjust", "low"),
    // style
    ("turn the photo into an oil painting", "style", "low"),
    ("make it anime style", "style", "low"),
    ("render this like a Studio Ghibli frame", "style", "low"),
    ("pixel art version", "style", "low"),
    ("convert the image to a pencil sketch", "style", "low"),
    ("make it look like a vintage travel poster", "style", "low"),
    ("give it a watercolor feel", "style", "low"),
    ("reimagine the scene as a Lego set", "style", "low"),
    // background
    (
        "change the background to a waterfall in a jungle",
        "background",
        "low",
    ),
    ("put the bride in front of a castle", "background", "low"),
    (
        "replace the background with a plain gray wall",
        "background",
        "low",
    ),
    (
        "make the backdrop a sunset over the ocean",
        "background",
        "low",
    ),
    ("move the family to a snowy forest", "background", "low"),
    ("set this on a busy market street", "background", "low"),
    ("background should be a cozy cafe", "background", "low"),
    ("put the dog on the surface of mars", "background", "low"),
    // extract
    ("extract the cat", "extract", "mid"),
    ("isolate the car on a white background", "extract", "mid"),
    ("cut out the woman in the red dress", "extract", "mid"),
    ("keep only the building", "extract", "mid"),
    (
        "I only need the shoes, remove everything else",
        "extract",
        "mid",
    ),
    ("segment the dog out of the image", "extract", "mid"),
    (
        "give me just the logo on a transparent background",
        "extract",
        "mid",
    ),
    ("extract the flower and put it on white", "extract", "mid"),
    // action
    ("make the man cross his arms", "action", "high"),
    ("have the dog lie down", "action", "high"),
    ("make her smile", "action", "high"),
    ("let the boy raise his hand", "action", "high"),
    ("the cat should be stretching", "action", "high"),
    ("make the woman turn around", "action", "high"),
    ("show the runner jumping over the hurdle", "action", "high"),
    ("make the kid point at the sky", "action", "high"),
    // dynamics
    ("make the ice cube melt", "action", "high"),
    ("let the vase tip over", "action", "high"),
    ("pour the milk into the cereal bowl", "action", "high"),
    ("the window should shatter", "action", "high"),
    ("make the bridge collapse", "action", "high"),
    ("open the treasure chest", "action", "high"),
    ("bend the straw", "action", "high"),
    ("add a leaf falling from the tree", "add", "high"),
    // multi-edit
    ("remove the dog and add a cat", "compose", "high"),
    ("make the sky purple and add some stars", "compose", "high"),
    (
        "replace the table with a desk, then change the background to an office",
        "compose",
        "high",
    ),
    ("add a hat and make it snow", "compose", "high"),
    (
        "erase the logo. Add a red stripe on the car.",
        "compose",
        "high",
    ),
    (
        "change the car color to white and put a surfboard on the roof",
        "compose",
        "high",
    ),
    (
        "remove the clouds and turn the photo into a painting",
        "compose",
        "high",
    ),
    (
        "delete the lamp and swap the sofa for an armchair",
        "compose",
        "high",
    ),
];

fn rules_plan(recipe: Recipe, prompt: &str) -> Plan {
    plan_for(
        recipe,
        &CardInput::new(prompt),
        &PlanTable::default(),
        &RulePredictor,
    )
    .unwrap()
}

/// (category accuracy, tier accuracy) of the rule predictor on a labelled set.
fn accuracy(set: &[(&str, &str, &str)]) -> (f64, f64, Confusion) {
    let mut conf = Confusion::default();
    let mut tier_ok = 0;
    for (prompt, cat, tier) in set {
        let p = RulePredictor.predict(&CardInput::new(prompt)).unwrap();
        conf.add(cat.parse().unwrap(), p.category);
        if p.tier == tier.parse::<Tier>().unwrap() {
            tier_ok += 1;
        }
    }
    (conf.accuracy(), tier_ok as f64 / set.len() as f64, conf)
}

#[test]
fn dev_set_a_accuracy() {
    // Set A was used while writing the rules (100 % at the time of writing); the bar leaves room for
    // later lexicon changes but catches regressions.
    let (cat, tier, conf) = accuracy(DEV_A);
    eprintln!(
        "dev set A:\n{}tier accuracy {:.1}%",
        conf.render(),
        100.0 * tier
    );
    assert!(
        cat >= 0.95,
        "category accuracy {cat:.3} < 0.95 on dev set A"
    );
    assert!(tier >= 0.95, "tier accuracy {tier:.3} < 0.95 on dev set A");
}

#[test]
fn dev_set_b_accuracy() {
    // 100 % after the rule changes it prompted; the bar catches regressions.
    let (cat, tier, conf) = accuracy(DEV_B);
    eprintln!(
        "dev set B:\n{}tier accuracy {:.1}%",
        conf.render(),
        100.0 * tier
    );
    assert!(
        cat >= 0.95,
        "category accuracy {cat:.3} < 0.95 on dev set B"
    );
    assert!(tier >= 0.95, "tier accuracy {tier:.3} < 0.95 on dev set B");
}

#[test]
fn held_out_set_c_accuracy() {
    // First and only measurement, with no rule change afterwards: category 74/80 = 92.5 %, tier
    // 74/80 = 92.5 %. The bar (85 % for both) sits below it so that lexicon changes made for other
    // reasons may move a case or two; a real loss of generalisation fails here.
    let (cat, tier, conf) = accuracy(HELD_OUT_C);
    eprintln!(
        "held-out set C:\n{}tier accuracy {:.1}%",
        conf.render(),
        100.0 * tier
    );
    assert!(
        cat >= 0.85,
        "category accuracy {cat:.3} < 0.85 on held-out set C"
    );
    assert!(
        tier >= 0.85,
        "tier accuracy {tier:.3} < 0.85 on held-out set C"
    );
}

#[test]
fn plans_are_deterministic() {
    let table = PlanTable::default();
    for (prompt, _, _) in DEV_A.iter().chain(DEV_B).chain(HELD_OUT_C) {
        for recipe in Recipe::ALL {
            let a = plan_for(recipe, &CardInput::new(prompt), &table, &RulePredictor).unwrap();
            let b = plan_for(recipe, &CardInput::new(prompt), &table, &RulePredictor).unwrap();
            assert_eq!(a, b, "{prompt}");
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap()
            );
        }
    }
}

#[test]
fn plan_invariants_hold_for_every_recipe() {
    for (prompt, _, _) in DEV_A.iter().chain(DEV_B).chain(HELD_OUT_C) {
        for recipe in Recipe::ALL {
            let p = rules_plan(recipe, prompt);
            assert_eq!(
                p.reasoning_steps == 0,
                p.reasoning_frames == 0,
                "{recipe} {prompt}"
            );
            assert!(p.reasoning_steps <= p.steps);
            assert!(p.reasoning_frames <= 6);
            assert!(
                !p.srm || p.reasoning_steps > 0,
                "SRM without reasoning: {recipe} {prompt}"
            );
            assert_eq!(p.num_frames(), 4 * (p.latent_frames() - 1) + 1);
            let (lo, hi) = p.tier.band();
            assert!(
                p.complexity >= lo && p.complexity <= hi,
                "{prompt}: {} not in {lo}..{hi}",
                p.complexity
            );
            assert!(!p.reason.is_empty());
        }
    }
}

#[test]
fn fixed_recipes_match_the_reference_settings() {
    let p = rules_plan(Recipe::ChronoeditReasoning, "make the cup fall");
    assert_eq!(
        (
            p.steps,
            p.reasoning_steps,
            p.reasoning_frames,
            p.srm,
            p.num_frames()
        ),
        (50, 50, 6, false, 29)
    );
    assert_eq!(p.guidance, 5.0);
    assert_eq!(p.temporal_positions(8), (0..=7).collect::<Vec<_>>());
    let p = rules_plan(Recipe::ChronoeditShort, "make the cup fall");
    assert_eq!(
        (p.reasoning_steps, p.reasoning_frames, p.num_frames()),
        (10, 6, 29)
    );
    let p = rules_plan(Recipe::NoReasoning, "make the cup fall");
    assert_eq!(
        (p.reasoning_steps, p.reasoning_frames, p.num_frames()),
        (0, 0, 5)
    );
    assert_eq!(p.temporal_positions(8), vec![0, 7]);
    let p = rules_plan(Recipe::SrmOnly, "add a hat");
    assert_eq!(
        (p.reasoning_steps, p.reasoning_frames, p.srm),
        (50, 6, true)
    );
    // adaptive recipes follow the table per tier
    let t = PlanTable::default();
    let p = rules_plan(Recipe::Physedit, "make the car bright yellow");
    assert_eq!(p.tier, Tier::Low);
    assert_eq!(
        (p.reasoning_steps, p.reasoning_frames, p.srm),
        (t.low.reasoning_steps, t.low.reasoning_frames, false)
    );
    let p = rules_plan(Recipe::Physedit, "let the ice cream melt in the sun");
    assert_eq!(p.tier, Tier::High);
    assert_eq!(
        (p.reasoning_steps, p.reasoning_frames, p.srm),
        (t.high.reasoning_steps, t.high.reasoning_frames, t.high.srm)
    );
    let p = rules_plan(Recipe::CardOnly, "let the ice cream melt in the sun");
    assert!(!p.srm);
}

#[test]
fn recipe_names_parse_and_unknown_names_are_rejected() {
    for r in Recipe::ALL {
        assert_eq!(r.name().parse::<Recipe>().unwrap(), r);
    }
    let err = "chronoedit-long".parse::<Recipe>().unwrap_err().to_string();
    assert!(
        err.contains("chronoedit-long") && err.contains("chronoedit-short"),
        "{err}"
    );
    for c in Category::ALL {
        assert_eq!(c.name().parse::<Category>().unwrap(), c);
    }
}

#[test]
fn temporal_positions_properties() {
    assert_eq!(temporal_positions(6, 8), vec![0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(temporal_positions(0, 8), vec![0, 7]);
    for skip in [4usize, 8, 12, 21] {
        for r in 0..=skip - 2 {
            let p = temporal_positions(r, skip);
            assert_eq!(p.len(), r + 2, "r={r} skip={skip}");
            assert_eq!(p[0], 0);
            assert_eq!(
                *p.last().unwrap(),
                skip - 1,
                "output keeps its trained position"
            );
            assert!(
                p.windows(2).all(|w| w[0] < w[1]),
                "strictly increasing: {p:?}"
            );
            // evenly spread: gaps differ by at most one position
            let gaps: Vec<usize> = p.windows(2).map(|w| w[1] - w[0]).collect();
            let (mn, mx) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
            assert!(mx - mn <= 1, "uneven gaps {gaps:?} for r={r} skip={skip}");
        }
    }
    // beyond the trained span: contiguous positions, as the reference uses for non-2-frame videos
    assert_eq!(temporal_positions(7, 8), (0..9).collect::<Vec<_>>());
    assert_eq!(temporal_positions(3, 1), vec![0, 1, 2, 3, 4]);
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn plan_table_file_matches_defaults_and_bad_files_are_rejected() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/plan_table.toml");
    assert_eq!(
        PlanTable::from_file(&shipped).unwrap(),
        PlanTable::default()
    );

    let dir = tempfile::tempdir().unwrap();
    let ok = "[low]\nreasoning_steps = 0\nreasoning_frames = 0\n[mid]\nreasoning_steps = 5\nreasoning_frames = 2\n[high]\nreasoning_steps = 20\nreasoning_frames = 6\nsrm = true\n";
    let t = PlanTable::from_file(&write(dir.path(), "ok.toml", ok)).unwrap();
    assert_eq!((t.steps, t.guidance, t.max_reasoning_frames), (50, 5.0, 6));
    assert_eq!(t.mid.reasoning_frames, 2);

    let cases: &[(&str, String, &[&str])] = &[
        (
            "unknown_key.toml",
            ok.replace("[mid]\n", "[mid]\nframes = 3\n"),
            &["unknown field", "frames"],
        ),
        (
            "too_many_frames.toml",
            ok.replace("reasoning_frames = 6", "reasoning_frames = 7"),
            &["[high]", "reasoning_frames = 7", "max_reasoning_frames = 6"],
        ),
        (
            "steps_over.toml",
            format!("steps = 10\n{}", ok),
            &["[high]", "reasoning_steps = 20", "steps = 10"],
        ),
        (
            "zero_steps.toml",
            format!("steps = 0\n{}", ok),
            &["steps must be at least 1"],
        ),
        (
            "mismatch.toml",
            ok.replace("reasoning_steps = 5", "reasoning_steps = 0"),
            &["[mid]", "both must be 0"],
        ),
        (
            "missing_tier.toml",
            ok.replace(
                "[high]\nreasoning_steps = 20\nreasoning_frames = 6\nsrm = true\n",
                "",
            ),
            &["missing field", "high"],
        ),
        (
            "bad_type.toml",
            ok.replace("reasoning_steps = 5", "reasoning_steps = \"five\""),
            &["reasoning_steps"],
        ),
        (
            "negative_guidance.toml",
            format!("guidance = -1.0\n{}", ok),
            &["guidance"],
        ),
        (
            "not_toml.toml",
            "this is = = not toml".to_string(),
            &["parsing plan table"],
        ),
    ];
    for (name, text, needles) in cases {
        let path = write(dir.path(), name, text);
        let err = format!("{:#}", PlanTable::from_file(&path).unwrap_err());
        assert!(
            err.contains(name),
            "error does not name the file {name}: {err}"
        );
        for n in *needles {
            assert!(err.contains(n), "error for {name} lacks {n:?}: {err}");
        }
    }
    let missing = format!(
        "{:#}",
        PlanTable::from_file(&dir.path().join("absent.toml")).unwrap_err()
    );
    assert!(missing.contains("absent.toml"), "{missing}");
}

// The facts file (docs of the real model) gives ≈440 TFLOP per 8-latent-frame forward and ≈91 TFLOP per
// 2-frame forward at 480×832, 44 / 9.1 PFLOP per 50-step CFG edit. Our count of what the reference
// executes gives 437.0 and 87.8 TFLOP: the facts file's per-token formula plus one projection of the 769
// context tokens to keys/values per layer (3.23 TFLOP). Both facts figures are exactly 3.23 TFLOP above
// ours (440.3 and 91.0), i.e. the facts file counts the context K/V projection twice. Tolerances: 1 % for
// the 8-frame figures (0.7 % off), 4 % for the 2-frame figures (3.5 % off), and 0.5 % for the
// reconciliation below, which reproduces both facts figures once the context K/V term is doubled.
#[test]
fn cost_model_reproduces_facts_file_numbers() {
    let m = ModelDims::chronoedit_14b();
    let tpf = tokens_per_frame(&m, 480, 832);
    assert_eq!(tpf, 1560);
    let f8 = transformer_forward(&m, 8 * tpf);
    let f2 = transformer_forward(&m, 2 * tpf);
    assert_eq!((f8.tokens, f2.tokens), (12480, 3120));
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    assert!(
        rel(f8.total, 440e12) < 0.01,
        "8-frame forward {:.2} TFLOP",
        f8.total / 1e12
    );
    assert!(
        rel(f2.total, 91e12) < 0.04,
        "2-frame forward {:.2} TFLOP",
        f2.total / 1e12
    );
    assert!(rel(f8.total + f8.context_kv, 440e12) < 0.005);
    assert!(rel(f2.total + f2.context_kv, 91e12) < 0.005);
    // per-token formula of the facts file, term by term
    let (d, ffn, l) = (5120f64, 13824f64, 40f64);
    let per_tok = |n: f64| 2.0 * (6.0 * d * d + 2.0 * d * ffn) + 4.0 * n * d + 4.0 * 769.0 * d;
    assert!(
        rel(
            f8.linear + f8.self_attention + f8.cross_attention,
            12480.0 * l * per_tok(12480.0)
        ) < 1e-12
    );

    let o = CostOptions::default();
    let reasoning = edit_cost(&m, &rules_plan(Recipe::ChronoeditReasoning, "x"), &o);
    let none = edit_cost(&m, &rules_plan(Recipe::NoReasoning, "x"), &o);
    let short = edit_cost(&m, &rules_plan(Recipe::ChronoeditShort, "x"), &o);
    assert_eq!(reasoning.forwards_per_step, 2);
    assert!(
        rel(reasoning.transformer(), 44e15) < 0.01,
        "{:.2} PFLOP",
        reasoning.transformer() / 1e15
    );
    assert!(
        rel(none.transformer(), 9.1e15) < 0.04,
        "{:.2} PFLOP",
        none.transformer() / 1e15
    );
    // ceilings quoted in the facts file: 4.8x (ours 4.98) and 1.77x (ours 1.80), same 3.5 % gap
    assert!(rel(reasoning.transformer() / none.transformer(), 4.8) < 0.04);
    assert!(rel(short.transformer() / none.transformer(), 1.77) < 0.02);
    // the other phases are small next to denoising
    assert!(reasoning.total - reasoning.transformer() < 0.01 * reasoning.total);
}

#[test]
fn cost_model_reads_a_model_folder_and_applies_srm_coverage() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("transformer")).unwrap();
    let cfg = r#"{"_class_name": "ChronoEditTransformer3DModel", "added_kv_proj_dim": 5120, "attention_head_dim": 128,
        "cross_attn_norm": true, "eps": 1e-06, "ffn_dim": 13824, "freq_dim": 256, "image_dim": 1280,
        "in_channels": 36, "num_attention_heads": 40, "num_layers": 40, "out_channels": 16,
        "patch_size": [1, 2, 2], "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "text_dim": 4096,
        "rope_temporal_skip_len": 8}"#;
    std::fs::write(dir.path().join("transformer/config.json"), cfg).unwrap();
    let m = ModelDims::from_model_dir(dir.path()).unwrap();
    let b = ModelDims::chronoedit_14b();
    assert_eq!(
        transformer_forward(&m, 12480),
        transformer_forward(&b, 12480)
    );
    let err = format!(
        "{:#}",
        ModelDims::from_model_dir(&dir.path().join("nope")).unwrap_err()
    );
    assert!(
        err.contains("transformer/config.json") || err.contains("transformer\\config.json"),
        "{err}"
    );

    let plan = rules_plan(Recipe::SrmOnly, "add a hat");
    let full = edit_cost(&b, &plan, &CostOptions::default());
    let half = edit_cost(
        &b,
        &plan,
        &CostOptions {
            srm_coverage: 0.5,
            ..Default::default()
        },
    );
    assert_eq!(full.reasoning_tokens, 8 * 1560);
    assert_eq!(half.reasoning_tokens, 2 * 1560 + 6 * 780);
    assert!(half.denoise_reasoning < full.denoise_reasoning);
    // coverage is ignored for plans without SRM
    let plain = rules_plan(Recipe::ChronoeditReasoning, "add a hat");
    let c = edit_cost(
        &b,
        &plain,
        &CostOptions {
            srm_coverage: 0.5,
            ..Default::default()
        },
    );
    assert_eq!(c.reasoning_tokens, 8 * 1560);
}

// Reference FLOP counts from torch's FlopCounterMode (matmuls, convolutions, SDPA) on diffusers 0.42.1
// modules with random weights, /work/venv-ref python:
//   m = ChronoEditTransformer3DModel(patch_size=(1,2,2), num_attention_heads=2, attention_head_dim=16,
//         in_channels=36, out_channels=16, text_dim=64, freq_dim=32, ffn_dim=96, num_layers=2, image_dim=48,
//         added_kv_proj_dim=32, rope_max_seq_len=64, rope_temporal_skip_len=8)
//   m(hidden_states=randn(1,36,F,12,20), timestep=[500.], encoder_hidden_states=randn(1,512,64),
//     encoder_hidden_states_image=randn(1,257,48))            -> F=8: 194895360, F=2: 46241280, F=5: 112273920
//   vae = AutoencoderKLWan();  vae.encode(randn(1,3,T,64,64)) -> T=5: 109245890560, T=29: 601084395520
//   vae.decode(z[:, :, [0, -1]]) (2 latent frames)            -> 182398025728
//   UMT5EncoderModel(UMT5Config(vocab_size=100, d_model=32, d_ff=64, num_layers=2, num_heads=4, d_kv=8,
//     feed_forward_proj="gated-gelu"))(input_ids of length 512) -> 88080384
//   CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
//     num_attention_heads=4, image_size=224, patch_size=14))(randn(1,3,224,224)) -> 34963712
// The transformer count is exact (same operations). The VAE estimate treats causal padding and frame
// chunking approximately; it is within 0.35 % of the reference here, tolerance 1 %.
#[test]
fn cost_model_matches_torch_flop_counter_on_reference_modules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("transformer")).unwrap();
    let cfg = r#"{"patch_size": [1, 2, 2], "num_attention_heads": 2, "attention_head_dim": 16, "in_channels": 36,
        "out_channels": 16, "text_dim": 64, "freq_dim": 32, "ffn_dim": 96, "num_layers": 2, "image_dim": 48,
        "added_kv_proj_dim": 32, "rope_max_seq_len": 64, "rope_temporal_skip_len": 8}"#;
    std::fs::write(dir.path().join("transformer/config.json"), cfg).unwrap();
    let m = ModelDims::from_model_dir(dir.path()).unwrap();
    let tpf = tokens_per_frame(&m, 96, 160);
    assert_eq!(tpf, 60);
    for (frames, want) in [(8usize, 194895360f64), (2, 46241280.0), (5, 112273920.0)] {
        let got = transformer_forward(&m, frames * tpf).total;
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "{frames} frames: {got} vs torch {want}"
        );
    }
    let b = ModelDims::chronoedit_14b();
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    for (frames, want) in [(5usize, 109245890560f64), (29, 601084395520.0)] {
        let got = vae_encode(&b, frames, 64, 64);
        assert!(
            rel(got, want) < 0.01,
            "VAE encode {frames} frames: {got:.4e} vs torch {want:.4e}"
        );
    }
    let got = vae_decode(&b, 2, 64, 64);
    assert!(rel(got, 182398025728.0) < 0.01, "VAE decode: {got:.4e}");

    // text and image encoders: exact
    std::fs::create_dir_all(dir.path().join("text_encoder")).unwrap();
    std::fs::create_dir_all(dir.path().join("image_encoder")).unwrap();
    std::fs::write(
        dir.path().join("text_encoder/config.json"),
        r#"{"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 4, "d_kv": 8}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("image_encoder/config.json"),
        r#"{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "image_size": 224, "patch_size": 14}"#,
    )
    .unwrap();
    let m = ModelDims::from_model_dir(dir.path()).unwrap();
    assert_eq!(text_encode(&m), 88080384.0);
    assert_eq!(image_encode(&m), 34963712.0);
}

#[test]
fn rule_cues_behave_as_documented() {
    let a = analyze("remove the car and add a bicycle");
    assert_eq!(a.category, Category::Compose);
    assert_eq!(a.edits, vec![Category::Remove, Category::Add]);
    // two parts of one pose are one edit
    assert_eq!(
        analyze("make him raise his hand and smile").category,
        Category::Action
    );
    // dynamics lift an object edit to the high tier
    let p = RulePredictor
        .predict(&CardInput::new("add a glass falling off the table"))
        .unwrap();
    assert_eq!((p.category, p.tier), (Category::Add, Tier::High));
    // the season is not a fall
    let p = RulePredictor
        .predict(&CardInput::new("change the season to fall"))
        .unwrap();
    assert_eq!(p.tier, Tier::Low);
    // negated verbs are not edits
    let a = analyze("add a hat. Don't change the face.");
    assert_eq!(a.category, Category::Add);
}

#[test]
fn image_cues_and_mask_coverage() {
    let (w, h) = (128u32, 96u32);
    let flat = vec![128u8; (w * h * 3) as usize];
    let c = ImageCues::from_rgb(w, h, &flat);
    assert_eq!(c.edge_density, 0.0);
    assert!(c.colorfulness.abs() < 1e-6);
    let mut checker = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        for x in 0..w {
            let v = if ((x / 4) + (y / 4)) % 2 == 0 { 255 } else { 0 };
            let i = 3 * (y * w + x) as usize;
            checker[i..i + 3].copy_from_slice(&[v, v / 2, 0]);
        }
    }
    let c = ImageCues::from_rgb(w, h, &checker);
    assert!(c.edge_density > 0.3, "{}", c.edge_density);
    // short buffers do not panic
    let _ = ImageCues::from_rgb(w, h, &flat[..10]);
    // a large mask raises an object edit's complexity inside its band; appearance edits are untouched
    let base = ImageCues::from_rgb(w, h, &flat);
    let big = base.with_mask_coverage(0.6);
    let p0 = RulePredictor
        .predict(&CardInput {
            prompt: "replace the dog with a cat",
            image: Some(&base),
            ..Default::default()
        })
        .unwrap();
    let p1 = RulePredictor
        .predict(&CardInput {
            prompt: "replace the dog with a cat",
            image: Some(&big),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p0.tier, p1.tier);
    assert!(p1.complexity > p0.complexity);
    let q0 = RulePredictor
        .predict(&CardInput {
            prompt: "make it sepia",
            image: Some(&base),
            ..Default::default()
        })
        .unwrap();
    let q1 = RulePredictor
        .predict(&CardInput {
            prompt: "make it sepia",
            image: Some(&big),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(q0, q1);
}

fn examples(with_embedding: bool) -> Vec<CardExample> {
    DEV_A
        .iter()
        .enumerate()
        .map(|(i, (p, c, _))| CardExample {
            prompt: p.to_string(),
            category: c.parse().unwrap(),
            // a deterministic stand-in for an embedding: 4 values derived from the index
            text_embedding: with_embedding.then(|| {
                (0..4)
                    .map(|k| ((i * 7 + k * 3) % 11) as f32 / 11.0)
                    .collect()
            }),
            image_embedding: None,
        })
        .collect()
}

#[test]
fn learned_predictor_fits_saves_loads_and_validates() {
    let ex = examples(true);
    let opts = FitOptions {
        epochs: 150,
        ..Default::default()
    };
    let m = LearnedPredictor::fit(&ex, opts).unwrap();
    let m2 = LearnedPredictor::fit(&ex, opts).unwrap();
    assert_eq!(m.weight, m2.weight, "fitting is deterministic");
    // the rule features are informative: training accuracy must be high
    assert!(
        m.train_accuracy >= 0.9,
        "train accuracy {}",
        m.train_accuracy
    );
    assert_eq!(m.spec.text_embedding, 4);
    assert_eq!(m.spec.image_embedding, 0);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.safetensors");
    m.save(&path, ex.len()).unwrap();
    let l = LearnedPredictor::load(&path).unwrap();
    assert_eq!(
        (
            l.weight.clone(),
            l.bias.clone(),
            l.mean.clone(),
            l.std.clone()
        ),
        (
            m.weight.clone(),
            m.bias.clone(),
            m.mean.clone(),
            m.std.clone()
        )
    );
    let e = ex[3].text_embedding.clone().unwrap();
    let input = CardInput {
        prompt: ex[3].prompt.as_str(),
        text_embedding: Some(&e),
        ..Default::default()
    };
    assert_eq!(
        l.probabilities(&input).unwrap(),
        m.probabilities(&input).unwrap()
    );
    let plan = plan_for(Recipe::Physedit, &input, &PlanTable::default(), &l).unwrap();
    assert!(plan.predictor.starts_with("learned:"));

    // a missing or wrong-sized embedding is an error, not a silent guess
    let err = format!("{:#}", l.predict(&CardInput::new("add a hat")).unwrap_err());
    assert!(
        err.contains("text embedding") && err.contains("card.safetensors"),
        "{err}"
    );
    let short = [0.0f32; 3];
    let err = l
        .predict(&CardInput {
            prompt: "add a hat",
            text_embedding: Some(&short),
            ..Default::default()
        })
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("has 3 values") && err.contains("expects 4"),
        "{err}"
    );

    // corrupt files name the file
    let bad = dir.path().join("garbage.safetensors");
    std::fs::write(&bad, b"not a safetensors file").unwrap();
    let err = format!("{:#}", LearnedPredictor::load(&bad).unwrap_err());
    assert!(err.contains("garbage.safetensors"), "{err}");
    // a tensor of the wrong shape is rejected by name
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let f = m.spec.len();
    let hacked = text.replacen(
        &format!("\"shape\":[{f}]"),
        &format!("\"shape\":[{}]", f - 1),
        1,
    );
    if hacked != text {
        let wrong = dir.path().join("wrong_shape.safetensors");
        std::fs::write(&wrong, hacked.as_bytes()).unwrap();
        let err = format!("{:#}", LearnedPredictor::load(&wrong).unwrap_err());
        assert!(err.contains("wrong_shape.safetensors"), "{err}");
    }

    // examples must agree on embedding presence
    let mut mixed = examples(true);
    mixed[5].text_embedding = None;
    let err = LearnedPredictor::fit(&mixed, opts).unwrap_err().to_string();
    assert!(err.contains("example 6"), "{err}");
    // rule features only
    let m = LearnedPredictor::fit(&examples(false), opts).unwrap();
    assert_eq!(m.spec.text_embedding, 0);
    assert!(m.predict(&CardInput::new("remove the lamp")).is_ok());
}

#[test]
fn mean_pool_averages_valid_tokens() {
    let h = [1.0f32, 2.0, 3.0, 4.0, 100.0, 100.0]; // 3 tokens x 2, last one is padding
    assert_eq!(mean_pool(&h, 3, 2, 2).unwrap(), vec![2.0, 3.0]);
    assert!(mean_pool(&h, 2, 2, 2).is_err());
    assert!(mean_pool(&h, 3, 2, 0).is_err());
}

#[test]
fn suite_loader_reads_imgedit_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "suite.json",
        r#"{"10": {"id": "a/1.jpg", "prompt": "Add a hat.", "edit_type": "add"},
            "9": {"id": "a/2.jpg", "prompt": "Make it sepia.", "edit_type": "adjust"}}"#,
    );
    let cases = load_suite(&p).unwrap();
    assert_eq!(
        cases.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
        vec!["9", "10"]
    );
    assert_eq!(cases[1].edit_type, Category::Add);
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"1": {"id": "a/1.jpg", "prompt": "x", "edit_type": "teleport"}}"#,
    );
    let err = format!("{:#}", load_suite(&bad).unwrap_err());
    assert!(
        err.contains("bad.json") && err.contains("teleport"),
        "{err}"
    );
    let no_id = write(
        dir.path(),
        "no_id.json",
        r#"{"1": {"prompt": "x", "edit_type": "add"}}"#,
    );
    let err = format!("{:#}", load_suite(&no_id).unwrap_err());
    assert!(err.contains("no_id.json") && err.contains("id"), "{err}");
}

/// Throughput of the rule planner (a bench, not a test): `cargo test --test adaptive -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_plan_throughput() {
    let prompts: Vec<&str> = DEV_A
        .iter()
        .chain(DEV_B)
        .chain(HELD_OUT_C)
        .map(|p| p.0)
        .collect();
    let table = PlanTable::default();
    let n = 200 * prompts.len();
    let t = std::time::Instant::now();
    let mut k = 0usize;
    for _ in 0..200 {
        for p in &prompts {
            k += plan_for(Recipe::Physedit, &CardInput::new(p), &table, &RulePredictor)
                .unwrap()
                .reasoning_steps;
        }
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "planned {n} prompts in {s:.3} s: {:.0} prompts/s (checksum {k})",
        n as f64 / s
    );
}

/// Category accuracy of the rule predictor over world cases, plus the accuracy over the cases whose
/// instruction uses a phrasing reserved for the test split (a `test_only` template or referring form).
fn world_accuracy(cases: &[physedit::world::CaseMeta]) -> (Confusion, usize, usize) {
    use physedit::world::lang::{ALL_TABLES, TEST_ONLY_REF_MARKERS};
    let reserved: std::collections::HashSet<&str> = ALL_TABLES
        .iter()
        .flat_map(|t| t.iter())
        .filter(|t| t.test_only)
        .map(|t| t.id)
        .collect();
    let mut conf = Confusion::default();
    let (mut reserved_n, mut reserved_ok) = (0, 0);
    for c in cases {
        let truth: Category = c.category.name().parse().unwrap();
        let p = RulePredictor.predict(&CardInput::new(&c.prompt)).unwrap();
        conf.add(truth, p.category);
        let uses_reserved = c.templates.iter().any(|t| reserved.contains(t.as_str()))
            || TEST_ONLY_REF_MARKERS
                .iter()
                .any(|m| format!(" {} ", c.prompt).contains(m));
        if uses_reserved {
            reserved_n += 1;
            reserved_ok += (p.category == truth) as usize;
        }
    }
    (conf, reserved_n, reserved_ok)
}

#[test]
fn world_train_sample_accuracy() {
    // A fresh sample of the world's TRAIN split (seed 11; development used seed 7, so these exact
    // cases were not looked at while writing rules, though their templates were). Measured
    // 498/500 = 99.6 % when written (82.6 % before the rules for physical motion, surface
    // treatments and rendering looks were added); the bar (95 %) leaves room for lexicon changes made for other
    // reasons while catching a lost phrasing family (each template family is ~2-5 % of cases).
    use physedit::world::{generate_case, GenConfig, Split};
    let cfg = GenConfig {
        split: Split::Train,
        seed: 11,
        size: 32,
        n_frames: 5,
    };
    let cases: Vec<_> = (0..500u64)
        .map(|i| generate_case(&cfg, i).unwrap().meta)
        .collect();
    let (conf, _, _) = world_accuracy(&cases);
    eprintln!(
        "world train sample (seed 11, 500 cases):\n{}",
        conf.render()
    );
    let acc = conf.accuracy();
    assert!(
        acc >= 0.95,
        "category accuracy {acc:.3} < 0.95 on the world train sample"
    );
}

/// Development set D: phrasings of physical-world edits (pushing, dropping, stacking, surface
/// treatments, rendering looks, cut-outs) written by hand while extending the rules for the world's
/// instructions, without reading the world's templates. NOT held out: the rules were changed after
/// seeing some of its failures. Category only.
const DEV_D: &[(&str, &str)] = &[
    ("Tip the box over", "action"),
    ("Knock the cup off the shelf", "action"),
    ("Give the ball a gentle push to the left", "action"),
    ("Slide the box along the floor to the right", "action"),
    ("Let the ball fall", "action"),
    ("Cut the rope holding the ball", "action"),
    ("Stack the cup on the box", "action"),
    ("Set the ring on top of the ball", "action"),
    ("Roll the ball down the slope", "action"),
    ("Push the triangle until it hits the wall", "action"),
    ("Drag the box over to the left side", "action"),
    ("Drop the ball onto the floor", "action"),
    ("Let go of the hanging cup", "action"),
    ("Shove the yellow box all the way to the right", "action"),
    ("Paint the box with red and white stripes", "adjust"),
    ("Give the ball a glossy finish", "adjust"),
    ("Cover the cup in polka dots", "adjust"),
    ("Tint the ring green", "adjust"),
    ("Dye the box purple", "adjust"),
    ("Put a checkerboard pattern on the cup", "adjust"),
    ("Give the triangle a fresh coat of blue paint", "adjust"),
    ("Render the scene as pixel art", "style"),
    ("Make everything look hand-drawn", "style"),
    ("Give the picture a sketchy look", "style"),
    ("Restyle the image as a cartoon", "style"),
    ("Turn the whole picture into an inked drawing", "style"),
    ("Switch the image to a blocky style", "style"),
    ("Make the image look grainy", "style"),
    ("Show the red ball alone on a white background", "extract"),
    ("Isolate the cup", "extract"),
    ("Cut out the box and put it on a blank canvas", "extract"),
    ("Lift the ring out onto an empty canvas", "extract"),
    ("Keep just the triangle and nothing else", "extract"),
    ("Put a green box where the red ball is", "replace"),
    ("Swap the cup for a ring", "replace"),
    ("Use a plain blue wall as the background", "background"),
    (
        "Set the backdrop to a blue and white checkerboard",
        "background",
    ),
    ("Put a small ball on top of the box", "add"),
    ("Remove the ring", "remove"),
    ("Get rid of the cup on the left", "remove"),
    ("Render it as a pencil sketch", "style"),
    ("Make it look like a cartoon", "style"),
    ("Give the picture a watercolour look", "style"),
    ("Turn the image into a comic", "style"),
    ("Apply a pixelated filter to the whole image", "style"),
    ("Paint stripes on the cup", "adjust"),
    ("Add stripes to the box", "adjust"),
    ("Apply a dotted pattern to the ball", "adjust"),
    ("Make the cup shiny", "adjust"),
    ("Recolour the ring so that it is yellow", "adjust"),
    ("Tilt the box until it falls over", "action"),
    ("Knock the box over", "action"),
    ("Tip the cup onto its side", "action"),
    ("Pile the cups up", "action"),
    ("Stack the box on the other box", "action"),
    ("Let the ball drop", "action"),
    ("Nudge the cup a little to the left", "action"),
    ("Give the ball a shove", "action"),
    ("Make the ball roll to the right", "action"),
    ("Cut the string so the ball falls", "action"),
    ("Crop to the cup", "extract"),
    ("Show me only the ball on plain white", "extract"),
    ("Extract the cup onto a transparent background", "extract"),
    (
        "Take the ring out and place it on a blank canvas",
        "extract",
    ),
    ("Replace the backdrop with a gradient", "background"),
    ("Change the wall behind the objects to green", "background"),
    ("Put a red cup next to the box", "add"),
    ("Add another ball on top of the box", "add"),
    ("Delete the ball on the ramp", "remove"),
    ("Turn the cup into a ball", "replace"),
];

#[test]
fn dev_set_d_accuracy() {
    // 68/70 = 97.1 % when written ("Set the ring on top of the ball" and "Take the ring out and place
    // it on a blank canvas" are missed); the bar catches regressions.
    let mut conf = Confusion::default();
    for (prompt, cat) in DEV_D {
        let p = RulePredictor.predict(&CardInput::new(prompt)).unwrap();
        conf.add(cat.parse().unwrap(), p.category);
    }
    eprintln!("dev set D:\n{}", conf.render());
    let acc = conf.accuracy();
    assert!(
        acc >= 0.93,
        "category accuracy {acc:.3} < 0.93 on dev set D"
    );
}

#[test]
fn world_test_split_accuracy() {
    // The committed world TEST split (300 cases; about half use phrasings reserved for it, never
    // generated for train). Measured once, after the rules were frozen: 280/300 = 93.3 % overall and
    // 166/183 = 90.7 % on the cases using a test-only template or referring form (before the rules for
    // physical motion, surface treatments and rendering looks: 68.3 % and 54.6 %). The bars sit about
    // three points below, so that lexicon changes made for other reasons may move a case or two.
    const BAR_ALL: f64 = 0.90;
    const BAR_RESERVED: f64 = 0.87;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/world/test");
    let cases = physedit::world::io::load_suite(&dir)
        .unwrap_or_else(|e| panic!("world test split {}: {e:#}", dir.display()));
    assert!(
        !cases.is_empty(),
        "world test split {} is empty",
        dir.display()
    );
    let (conf, reserved_n, reserved_ok) = world_accuracy(&cases);
    let acc = conf.accuracy();
    let reserved_acc = reserved_ok as f64 / reserved_n.max(1) as f64;
    eprintln!(
        "world test split:\n{}test-only phrasings: {reserved_ok}/{reserved_n} = {:.1}%",
        conf.render(),
        100.0 * reserved_acc
    );
    assert!(
        acc >= BAR_ALL,
        "category accuracy {acc:.3} < {BAR_ALL} on the world test split"
    );
    assert!(
        reserved_acc >= BAR_RESERVED,
        "category accuracy {reserved_acc:.3} < {BAR_RESERVED} on the test-only phrasings"
    );
}
