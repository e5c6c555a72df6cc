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

/// One labelled instruction of a `tests/data/card_*.jsonl` set. The files are in the JSON-lines
/// format `physedit plan --input` reads (`{"prompt", "category"}`, one object a line), so
/// `physedit plan --input tests/data/card_held_out_c.jsonl` prints the same confusion matrix; the
/// expected `tier`, where a set labels one, is an extra field that `plan --input` ignores.
#[derive(serde::Deserialize)]
struct Labelled {
    prompt: String,
    category: Category,
    #[serde(default)]
    tier: Option<Tier>,
}

/// A labelled set from `tests/data/NAME`; `n` is the number of cases it was written with, so a
/// truncated or damaged file fails here instead of quietly changing what the bars measure.
fn labelled_set(name: &str, n: usize) -> Vec<Labelled> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let set: Vec<Labelled> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect();
    assert_eq!(
        set.len(),
        n,
        "{}: expected {n} labelled cases",
        path.display()
    );
    set
}

/// Development set A: hand-written phrasings (prompt, category, tier), written before the rule lexicon
/// existed and then used while developing the rules, so it is NOT held out. Nothing is taken from or
/// modelled on ImgEdit's basic_edit.json. Convention: an edit whose main content is a physical process
/// (falling, pouring, melting, ...) is labelled `action`, tier high.
fn dev_a() -> Vec<Labelled> {
    labelled_set("card_dev_a.jsonl", 100)
}

/// Development set B: hand-written after the first version of the rules and first measured as a
/// held-out set (category 79 %, tier 83 %); its failures then guided general rule changes (noun/verb
/// disambiguation, quoted text, copulas, ...), so it is NOT held out any more. Nothing is taken from or
/// modelled on ImgEdit's basic_edit.json.
fn dev_b() -> Vec<Labelled> {
    labelled_set("card_dev_b.jsonl", 100)
}

/// Held-out set C: written after the rules were final (after sets A and B had been used for
/// development) and evaluated once; no rule changes after its first measurement. Hand-written; nothing
/// taken from or modelled on ImgEdit's basic_edit.json.
fn held_out_c() -> Vec<Labelled> {
    labelled_set("card_held_out_c.jsonl", 80)
}

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
fn accuracy(set: &[Labelled]) -> (f64, f64, Confusion) {
    let mut conf = Confusion::default();
    let mut tier_ok = 0;
    for l in set {
        let p = RulePredictor.predict(&CardInput::new(&l.prompt)).unwrap();
        conf.add(l.category, p.category);
        let tier = l
            .tier
            .unwrap_or_else(|| panic!("no tier label for {:?}", l.prompt));
        if p.tier == tier {
            tier_ok += 1;
        }
    }
    (conf.accuracy(), tier_ok as f64 / set.len() as f64, conf)
}

#[test]
fn dev_set_a_accuracy() {
    // Set A was used while writing the rules (100 % at the time of writing); the bar leaves room for
    // later lexicon changes but catches regressions.
    let (cat, tier, conf) = accuracy(&dev_a());
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
    let (cat, tier, conf) = accuracy(&dev_b());
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
    let (cat, tier, conf) = accuracy(&held_out_c());
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
    let sets = [dev_a(), dev_b(), held_out_c()];
    for prompt in sets.iter().flatten().map(|l| l.prompt.as_str()) {
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
    let sets = [dev_a(), dev_b(), held_out_c()];
    for prompt in sets.iter().flatten().map(|l| l.prompt.as_str()) {
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
    let paper = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/plan_table_paper.toml");
    let paper = PlanTable::from_file(&paper).unwrap();
    assert_eq!(paper, PlanTable::paper());
    // The paper's (N_r, r) with r counting input and output: mid (8, 4), high (15, 8).
    assert_eq!(
        (paper.mid.reasoning_steps, paper.mid.reasoning_frames + 2),
        (8, 4)
    );
    assert_eq!(
        (paper.high.reasoning_steps, paper.high.reasoning_frames + 2),
        (15, 8)
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
    dev_a()
        .into_iter()
        .enumerate()
        .map(|(i, l)| CardExample {
            prompt: l.prompt,
            category: l.category,
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

/// Throughput of the rule planner (a bench, not a test): `cargo test --test it adaptive:: -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_plan_throughput() {
    let sets = [dev_a(), dev_b(), held_out_c()];
    let prompts: Vec<&str> = sets.iter().flatten().map(|l| l.prompt.as_str()).collect();
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
fn dev_d() -> Vec<Labelled> {
    labelled_set("card_dev_d.jsonl", 70)
}

#[test]
fn dev_set_d_accuracy() {
    // 68/70 = 97.1 % when written ("Set the ring on top of the ball" and "Take the ring out and place
    // it on a blank canvas" are missed); the bar catches regressions.
    let mut conf = Confusion::default();
    for l in dev_d() {
        let p = RulePredictor.predict(&CardInput::new(&l.prompt)).unwrap();
        conf.add(l.category, p.category);
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

#[test]
fn labelled_sets_are_plan_input_files() {
    // The labelled sets are meant to be run by hand with `physedit plan --input`; this checks that
    // the command reads every line, takes the label as the truth and predicts what the tests measure.
    for (name, set) in [
        ("card_dev_a.jsonl", dev_a()),
        ("card_dev_b.jsonl", dev_b()),
        ("card_held_out_c.jsonl", held_out_c()),
        ("card_dev_d.jsonl", dev_d()),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
            .args(["plan", "--input"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "plan --input {name}: {stderr}");
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), set.len(), "{name}");
        let mut conf = Confusion::default();
        for (line, l) in lines.iter().zip(&set) {
            let p = RulePredictor.predict(&CardInput::new(&l.prompt)).unwrap();
            conf.add(l.category, p.category);
            assert_eq!(line["prompt"], l.prompt.as_str(), "{name}");
            assert_eq!(line["truth"], l.category.name(), "{name}: {}", l.prompt);
            assert_eq!(line["category"], p.category.name(), "{name}: {}", l.prompt);
        }
        let summary = format!("accuracy {}/{}", conf.correct(), conf.total());
        assert!(
            stderr.contains(&summary),
            "{name}: {summary} not in {stderr}"
        );
    }
}

#[test]
fn cost_prints_the_paper_tables_prediction_next_to_its_reported_figures() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/world/test/suite.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
        .args(["cost", "--json", "--suite"])
        .arg(&suite)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paper = v["paper_table"].as_array().unwrap();
    assert_eq!(paper[1]["group"], "paper table: overall");
    assert_eq!(paper[1]["n"], 300);
    // The paper's table against the reference reasoning recipe: its tiers reason for at most 15 of
    // 50 steps, so every group is faster than chronoedit-reasoning and than chronoedit-short on
    // appearance edits (which do not reason at all).
    assert!(paper[1]["speedup_vs_reasoning"].as_f64().unwrap() > 2.0);
    assert!(paper[0]["speedup_vs_short"].as_f64().unwrap() > 1.0);
    assert_eq!(v["paper_reported_wall_clock"][0][1], 1.18);
    assert_eq!(v["paper_reported_wall_clock"][1][1], 1.52);
}

/// `physedit cost` prices every recipe against the three baselines users compare with; the template
/// (20 steps, CFG 4, 2 latent frames) costs 2/5 of `no-reasoning`'s 50 steps at the 14B's size.
#[test]
fn cost_prices_recipes_against_the_users_baselines() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
        .args(["cost", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["recipes"].as_array().unwrap();
    let cost = |name: &str| {
        let r = rows
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name}"));
        (
            r["steps"].as_u64().unwrap(),
            r["cost"]["denoise_final"].as_f64().unwrap(),
        )
    };
    let (steps, template) = cost("comfy-template");
    let (ref_steps, plain) = cost("no-reasoning");
    assert_eq!((steps, ref_steps), (20, 50));
    assert!(
        (template / plain - 0.4).abs() < 1e-9,
        "{template} vs {plain}"
    );
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
        .arg("cost")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("vs comfy")
            && text.contains(
                "chronoedit-reasoning, chronoedit-short, comfy-template, chronoedit-distill"
            ),
        "{text}"
    );
}
