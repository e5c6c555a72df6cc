//! `physedit cost`: the FLOP model of recipes and plans.
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::adaptive::card::{BaseTier, CardInput, Tier};
use crate::adaptive::cost::{
    edit_cost, price_plan, tokens_per_frame, transformer_forward, CostOptions, EditCost, ModelDims,
};
use crate::adaptive::plan::{fixed_plan, plan_for, PlanTable, Recipe};
use crate::category::Category;
use crate::cli::args::PlannerArgs;
use crate::suite::load_suite;

#[derive(Args, Debug)]
pub struct CostArgs {
    /// Diffusers model folder (reads transformer/config.json, and text_encoder/, image_encoder/, vae/
    /// config.json when present), or a Hugging Face id ORG/NAME[@REVISION] (only its configs are
    /// fetched); default: the built-in ChronoEdit-14B numbers.
    #[arg(long, value_name = "DIR|ORG/NAME[@REV]")]
    pub model: Option<PathBuf>,
    /// Picture height in pixels (the reference's 480).
    #[arg(long, default_value_t = 480)]
    pub height: usize,
    /// Picture width in pixels (the reference's 832).
    #[arg(long, default_value_t = 832)]
    pub width: usize,
    /// Recipe to cost for --prompt / --suite.
    #[arg(long, value_enum, default_value_t = Recipe::Physedit)]
    pub recipe: Recipe,
    /// Cost the plan of one instruction.
    #[arg(long, conflicts_with = "suite")]
    pub prompt: Option<String>,
    /// ImgEdit suite: predicted speedup per category against chronoedit-reasoning and chronoedit-short.
    #[arg(long)]
    pub suite: Option<PathBuf>,
    #[command(flatten)]
    pub planner: PlannerArgs,
    /// Fraction of each reasoning frame's tokens the SRM keeps, for plans with SRM on (1 = no pruning).
    #[arg(long, default_value_t = 1.0)]
    pub srm_coverage: f64,
    /// Do not count the reference's decode of the reasoning video (done when reasoning lasts to the end).
    #[arg(long)]
    pub no_reasoning_video_decode: bool,
    /// Print JSON instead of text tables.
    #[arg(long)]
    pub json: bool,
}

const P: f64 = 1e15;
/// The paper's reported wall-clock speedups on ImgEdit Basic.
const PAPER_REPORTED: [(&str, f64); 2] = [("overall", 1.18), ("appearance", 1.52)];
const T: f64 = 1e12;

#[derive(Serialize)]
struct Row {
    name: String,
    steps: usize,
    reasoning_steps: usize,
    reasoning_frames: usize,
    srm: bool,
    cost: EditCost,
}

/// The baselines every recipe is priced against: the paper's reference, the recipe ComfyUI users run,
/// and the distilled sampler.
const BASELINES: [Recipe; 4] = [
    Recipe::ChronoeditReasoning,
    Recipe::ChronoeditShort,
    Recipe::ComfyTemplate,
    Recipe::ChronoeditDistill,
];

fn print_rows(rows: &[Row], baselines: &[f64; 4]) -> std::io::Result<()> {
    writeln!(
        std::io::stdout().lock(),
        "{:<28} {:>5} {:>4} {:>2} {:>4} {:>9} {:>9} {:>9} {:>11} {:>11} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "plan",
        "steps",
        "N_r",
        "r",
        "srm",
        "text TF",
        "image TF",
        "vae-e TF",
        "reason PF",
        "2-frame PF",
        "decode TF",
        "total PF",
        "vs reas",
        "vs short",
        "vs comfy",
        "vs dist"
    )?;
    for r in rows {
        let c = &r.cost;
        writeln!(
                std::io::stdout().lock(),
            "{:<28} {:>5} {:>4} {:>2} {:>4} {:>9.2} {:>9.3} {:>9.2} {:>11.3} {:>11.3} {:>9.2} {:>9.3} {:>7.2}x {:>7.2}x {:>7.2}x {:>7.2}x",
            r.name,
            r.steps,
            r.reasoning_steps,
            r.reasoning_frames,
            if r.srm { "on" } else { "off" },
            c.text_encode / T,
            c.image_encode / T,
            c.vae_encode / T,
            c.denoise_reasoning / P,
            c.denoise_final / P,
            c.decode / T,
            c.total / P,
            baselines[0] / c.total,
            baselines[1] / c.total,
            baselines[2] / c.total,
            baselines[3] / c.total
        )?;
    }
    Ok(())
}

#[derive(Default, Serialize, Clone)]
struct Group {
    n: usize,
    flops: f64,
    transformer: f64,
    base: f64,
    base_transformer: f64,
    short: f64,
    short_transformer: f64,
}

impl Group {
    fn add(&mut self, c: &EditCost, b: &EditCost, s: &EditCost) {
        self.n += 1;
        self.flops += c.total;
        self.transformer += c.transformer();
        self.base += b.total;
        self.base_transformer += b.transformer();
        self.short += s.total;
        self.short_transformer += s.transformer();
    }
}

#[derive(Serialize)]
struct GroupOut {
    group: String,
    n: usize,
    mean_pflop: f64,
    speedup_vs_reasoning: f64,
    speedup_vs_short: f64,
    transformer_speedup_vs_reasoning: f64,
    transformer_speedup_vs_short: f64,
}

fn group_out(name: &str, g: &Group) -> GroupOut {
    GroupOut {
        group: name.to_string(),
        n: g.n,
        mean_pflop: g.flops / g.n.max(1) as f64 / P,
        speedup_vs_reasoning: g.base / g.flops,
        speedup_vs_short: g.short / g.flops,
        transformer_speedup_vs_reasoning: g.base_transformer / g.transformer,
        transformer_speedup_vs_short: g.short_transformer / g.transformer,
    }
}

pub fn run(args: CostArgs) -> anyhow::Result<()> {
    let model = match &args.model {
        Some(d) => ModelDims::from_model_dir(&crate::cli::args::model_folder_with(
            "--model",
            d,
            crate::checkpoint::hub::Want::ConfigsOnly,
        )?)?,
        None => ModelDims::chronoedit_14b(),
    };
    if !args.height.is_multiple_of(16)
        || !args.width.is_multiple_of(16)
        || args.height == 0
        || args.width == 0
    {
        anyhow::bail!(
            "--height and --width must be positive multiples of 16, got {}x{}",
            args.height,
            args.width
        );
    }
    if !(0.0..=1.0).contains(&args.srm_coverage) {
        anyhow::bail!(
            "--srm-coverage must be in [0, 1], got {}",
            args.srm_coverage
        );
    }
    let opts = CostOptions {
        height: args.height,
        width: args.width,
        srm_coverage: args.srm_coverage,
        decode_reasoning_video: !args.no_reasoning_video_decode,
    };
    let (recipe, planner) = (args.recipe, args.planner.planner()?);
    let table = &planner.table;
    let base_plan = fixed_plan(Recipe::ChronoeditReasoning, table, None)?;
    let short_plan = fixed_plan(Recipe::ChronoeditShort, table, None)?;
    let base = edit_cost(&model, &base_plan, &opts);
    let short = edit_cost(&model, &short_plan, &opts);

    if let Some(prompt) = &args.prompt {
        let priced = price_plan(&model, &planner, recipe, &CardInput::new(prompt), &opts)?;
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string(&priced)?
        )?;
        return Ok(());
    }

    if let Some(path) = &args.suite {
        let cases = load_suite(path)?;
        // The paper's own table with the same predictor, for its reported figures' baseline.
        let (mut paper_appearance, mut paper_all) = (Group::default(), Group::default());
        for c in &cases {
            let input = CardInput::new(&c.prompt);
            let plan = plan_for(
                recipe,
                &input,
                &PlanTable::paper(),
                planner.predictor.as_ref(),
            )
            .with_context(|| format!("suite case {}", c.key))?;
            let cost = edit_cost(&model, &plan, &opts);
            if c.edit_type.base_tier() == Tier::Low {
                paper_appearance.add(&cost, &base, &short);
            }
            paper_all.add(&cost, &base, &short);
        }
        let paper_rows = [
            group_out("paper table: appearance", &paper_appearance),
            group_out("paper table: overall", &paper_all),
        ];
        let mut by_cat: Vec<Group> = vec![Group::default(); 9];
        let mut by_tier: Vec<Group> = vec![Group::default(); 3];
        let (mut appearance, mut object, mut structural, mut all) = (
            Group::default(),
            Group::default(),
            Group::default(),
            Group::default(),
        );
        for c in &cases {
            let plan = planner
                .plan(recipe, &CardInput::new(&c.prompt))
                .with_context(|| format!("suite case {}", c.key))?;
            let cost = edit_cost(&model, &plan, &opts);
            by_cat[c.edit_type.index()].add(&cost, &base, &short);
            let ti = Tier::ALL.iter().position(|t| *t == plan.tier).unwrap_or(0);
            by_tier[ti].add(&cost, &base, &short);
            match c.edit_type.base_tier() {
                Tier::Low => appearance.add(&cost, &base, &short),
                Tier::Mid => object.add(&cost, &base, &short),
                Tier::High => structural.add(&cost, &base, &short),
            }
            all.add(&cost, &base, &short);
        }
        let mut rows: Vec<GroupOut> = Vec::new();
        for cat in Category::ALL {
            if by_cat[cat.index()].n > 0 {
                rows.push(group_out(cat.name(), &by_cat[cat.index()]));
            }
        }
        rows.push(group_out(
            "appearance (adjust/style/background)",
            &appearance,
        ));
        rows.push(group_out("object (add/remove/replace/extract)", &object));
        rows.push(group_out("structural (action/compose)", &structural));
        for (i, t) in Tier::ALL.iter().enumerate() {
            if by_tier[i].n > 0 {
                rows.push(group_out(&format!("predicted tier {t}"), &by_tier[i]));
            }
        }
        rows.push(group_out("overall", &all));
        if args.json {
            #[derive(Serialize)]
            struct Out<'a> {
                groups: &'a [GroupOut],
                paper_table: &'a [GroupOut],
                paper_reported_wall_clock: [(&'a str, f64); 2],
            }
            let out = Out {
                groups: &rows,
                paper_table: &paper_rows,
                paper_reported_wall_clock: PAPER_REPORTED,
            };
            writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&out)?)?;
        } else {
            writeln!(
                std::io::stdout().lock(),
                "recipe {} on {} ({} cases), {}x{}, model {}, srm coverage {}; FLOPs with all phases (transformer only in brackets)",
                recipe,
                path.display(),
                cases.len(),
                args.height,
                args.width,
                model.source,
                args.srm_coverage
            )?;
            writeln!(
                std::io::stdout().lock(),
                "{:<38} {:>4} {:>9} {:>18} {:>18}",
                "group (ground-truth edit_type)",
                "n",
                "mean PF",
                "vs reasoning",
                "vs short"
            )?;
            for r in rows.iter().chain(&paper_rows) {
                writeln!(
                    std::io::stdout().lock(),
                    "{:<38} {:>4} {:>9.3} {:>8.2}x ({:>5.2}x) {:>8.2}x ({:>5.2}x)",
                    r.group,
                    r.n,
                    r.mean_pflop,
                    r.speedup_vs_reasoning,
                    r.transformer_speedup_vs_reasoning,
                    r.speedup_vs_short,
                    r.transformer_speedup_vs_short
                )?;
            }
            // Which baseline makes the paper's table predict the paper's own figures.
            let miss = |f: &dyn Fn(&GroupOut) -> f64| {
                (f(&paper_rows[1]) / PAPER_REPORTED[0].1).ln().abs()
                    + (f(&paper_rows[0]) / PAPER_REPORTED[1].1).ln().abs()
            };
            let closer = if miss(&|g| g.speedup_vs_short) < miss(&|g| g.speedup_vs_reasoning) {
                "chronoedit-short"
            } else {
                "chronoedit-reasoning"
            };
            writeln!(
                std::io::stdout().lock(),
                "paper reports (wall-clock, ImgEdit Basic): {:.2}x overall, {:.2}x appearance; its own table \
                 predicts speedups closer to those against {closer}",
                PAPER_REPORTED[0].1,
                PAPER_REPORTED[1].1
            )?;
        }
        return Ok(());
    }

    // overview: fixed recipes and the adaptive recipe per tier
    let mut rows = Vec::new();
    for r in [
        Recipe::ChronoeditReasoning,
        Recipe::ChronoeditShort,
        Recipe::NoReasoning,
        Recipe::ComfyTemplate,
        Recipe::SrmOnly,
        Recipe::ChronoeditDistill,
    ] {
        let plan = fixed_plan(r, table, None)?;
        rows.push(Row {
            name: r.name().to_string(),
            steps: plan.steps,
            reasoning_steps: plan.reasoning_steps,
            reasoning_frames: plan.reasoning_frames,
            srm: plan.srm,
            cost: edit_cost(&model, &plan, &opts),
        });
    }
    for r in [
        Recipe::Physedit,
        Recipe::CardOnly,
        Recipe::PhyseditFast,
        Recipe::PhyseditDistill,
        Recipe::PhyseditTurbo,
    ] {
        for t in Tier::ALL {
            let plan = fixed_plan(r, table, Some(t))?;
            rows.push(Row {
                name: format!("{} ({} tier)", r.name(), t),
                steps: plan.steps,
                reasoning_steps: plan.reasoning_steps,
                reasoning_frames: plan.reasoning_frames,
                srm: plan.srm,
                cost: edit_cost(&model, &plan, &opts),
            });
        }
    }
    let tpf = tokens_per_frame(&model, args.height, args.width);
    let f8 = transformer_forward(&model, 8 * tpf);
    let f2 = transformer_forward(&model, 2 * tpf);
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            model: &'a ModelDims,
            height: usize,
            width: usize,
            tokens_per_frame: usize,
            forward_8_frames: crate::adaptive::cost::ForwardFlops,
            forward_2_frames: crate::adaptive::cost::ForwardFlops,
            recipes: &'a [Row],
        }
        let out = Out {
            model: &model,
            height: args.height,
            width: args.width,
            tokens_per_frame: tpf,
            forward_8_frames: f8,
            forward_2_frames: f2,
            recipes: &rows,
        };
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&out)?)?;
    } else {
        writeln!(
            std::io::stdout().lock(),
            "model {}; {}x{}: {} tokens per latent frame",
            model.source,
            args.height,
            args.width,
            tpf
        )?;
        for (name, f) in [("8 latent frames", f8), ("2 latent frames", f2)] {
            writeln!(
                std::io::stdout().lock(),
                "forward, {name} ({} tokens): {:.1} TFLOP (linear {:.1}, self-attn {:.1}, cross-attn {:.1}, context K/V {:.2}, embeddings {:.3})",
                f.tokens,
                f.total / T,
                f.linear / T,
                f.self_attention / T,
                f.cross_attention / T,
                f.context_kv / T,
                f.embeddings / T
            )?;
        }
        writeln!(
            std::io::stdout().lock(),
            "SRM coverage for plans with SRM: {}",
            args.srm_coverage
        )?;
        let mut baselines = [0.0; 4];
        for (b, r) in baselines.iter_mut().zip(BASELINES) {
            *b = edit_cost(&model, &fixed_plan(r, table, None)?, &opts).total;
        }
        writeln!(
            std::io::stdout().lock(),
            "speedups against {} (FLOPs with all phases)",
            BASELINES.map(|r| r.name()).join(", ")
        )?;
        print_rows(&rows, &baselines)?;
    }
    Ok(())
}
