//! Choosing a sampler other than the model folder's, as a user of diffusers does with
//! `pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, solver_order=3)`.
//!
//! [`with_solver`] rewrites a folder's `scheduler_config.json` the way `from_config` reads it: the
//! new class keeps every option it shares with the old one (training steps, prediction type,
//! `use_flow_sigmas`, `flow_shift`, …) and takes its defaults for the rest; `solver_order` is set.
//! A flow-matching Euler config has no `use_flow_sigmas`/`flow_shift`: moving from or to it maps
//! `shift` ↔ `flow_shift` with flow sigmas and flow prediction, which is what its model samples.
use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// A multistep sampler and its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Solver {
    /// `UniPCMultistepScheduler` with `solver_order` 1–3 (the folder's bh1/bh2 variant kept).
    UniPc(u8),
    /// `DPMSolverMultistepScheduler` (DPM-Solver++) with `solver_order` 1–3.
    DpmPp(u8),
    /// `FlowMatchEulerDiscreteScheduler`.
    Euler,
}

impl Solver {
    /// Every accepted name, for help texts and errors.
    pub const NAMES: &'static str = "unipc1, unipc2, unipc3, dpm1, dpm2, dpm3 or euler";

    /// The diffusers class this solver runs.
    pub fn class(self) -> &'static str {
        match self {
            Solver::UniPc(_) => "UniPCMultistepScheduler",
            Solver::DpmPp(_) => "DPMSolverMultistepScheduler",
            Solver::Euler => "FlowMatchEulerDiscreteScheduler",
        }
    }
}

impl fmt::Display for Solver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Solver::UniPc(o) => write!(f, "unipc{o}"),
            Solver::DpmPp(o) => write!(f, "dpm{o}"),
            Solver::Euler => f.write_str("euler"),
        }
    }
}

impl FromStr for Solver {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let order = |digits: &str| -> Option<u8> {
            digits.parse::<u8>().ok().filter(|o| (1..=3).contains(o))
        };
        if s == "euler" {
            return Ok(Solver::Euler);
        }
        if let Some(o) = s.strip_prefix("unipc").and_then(order) {
            return Ok(Solver::UniPc(o));
        }
        if let Some(o) = s.strip_prefix("dpm").and_then(order) {
            return Ok(Solver::DpmPp(o));
        }
        bail!("unknown solver {s:?}; expected {}", Solver::NAMES)
    }
}

impl TryFrom<String> for Solver {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Solver> for String {
    fn from(s: Solver) -> String {
        s.to_string()
    }
}

/// Options every flow-matching config carries over between classes.
const SHARED_FLOW_KEYS: [&str; 2] = ["num_train_timesteps", "use_dynamic_shifting"];

/// The folder's scheduler config `value` switched to `solver` (see the module doc).
pub fn with_solver(value: &serde_json::Value, solver: Solver) -> Result<serde_json::Value> {
    let Some(obj) = value.as_object() else {
        bail!("scheduler config is not a JSON object");
    };
    let from = obj
        .get("_class_name")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let from_euler = from == "FlowMatchEulerDiscreteScheduler";
    let mut out = match (from_euler, solver) {
        (true, Solver::Euler) | (false, Solver::UniPc(_) | Solver::DpmPp(_)) => obj.clone(),
        (true, _) => {
            // Euler → multistep: the same flow schedule in the multistep classes' words.
            let mut m = serde_json::Map::new();
            for k in SHARED_FLOW_KEYS {
                if let Some(v) = obj.get(k) {
                    m.insert(k.into(), v.clone());
                }
            }
            m.insert(
                "flow_shift".into(),
                obj.get("shift").cloned().unwrap_or(serde_json::json!(1.0)),
            );
            m.insert("use_flow_sigmas".into(), serde_json::json!(true));
            m.insert(
                "prediction_type".into(),
                serde_json::json!("flow_prediction"),
            );
            m
        }
        (false, Solver::Euler) => {
            if obj.get("use_flow_sigmas").and_then(|v| v.as_bool()) != Some(true) {
                bail!(
                    "solver euler needs a flow-matching scheduler config (`use_flow_sigmas` = true \
                     in the folder's {from})"
                );
            }
            let mut m = serde_json::Map::new();
            for k in SHARED_FLOW_KEYS {
                if let Some(v) = obj.get(k) {
                    m.insert(k.into(), v.clone());
                }
            }
            m.insert(
                "shift".into(),
                obj.get("flow_shift")
                    .cloned()
                    .unwrap_or(serde_json::json!(1.0)),
            );
            m
        }
    };
    out.insert("_class_name".into(), serde_json::json!(solver.class()));
    match solver {
        Solver::UniPc(o) | Solver::DpmPp(o) => {
            out.insert("solver_order".into(), serde_json::json!(o));
        }
        Solver::Euler => {}
    }
    Ok(serde_json::Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        for s in [
            "unipc1", "unipc2", "unipc3", "dpm1", "dpm2", "dpm3", "euler",
        ] {
            assert_eq!(s.parse::<Solver>().unwrap().to_string(), s);
        }
        for bad in ["unipc4", "dpm0", "dpm", "heun", "unipc3x", ""] {
            let e = bad.parse::<Solver>().unwrap_err().to_string();
            assert!(e.contains("expected unipc1"), "{bad}: {e}");
        }
    }

    #[test]
    fn switching_keeps_the_shared_options() {
        let unipc = serde_json::json!({
            "_class_name": "UniPCMultistepScheduler", "flow_shift": 5.0, "use_flow_sigmas": true,
            "prediction_type": "flow_prediction", "solver_order": 2, "predict_x0": true
        });
        let dpm = with_solver(&unipc, Solver::DpmPp(3)).unwrap();
        assert_eq!(dpm["_class_name"], "DPMSolverMultistepScheduler");
        assert_eq!(dpm["solver_order"], 3);
        assert_eq!(dpm["flow_shift"], 5.0);
        let euler = with_solver(&unipc, Solver::Euler).unwrap();
        assert_eq!(euler["shift"], 5.0);
        assert!(euler.get("flow_shift").is_none());
        let back = with_solver(&euler, Solver::UniPc(3)).unwrap();
        assert_eq!(back["flow_shift"], 5.0);
        assert_eq!(back["use_flow_sigmas"], true);
        assert_eq!(back["prediction_type"], "flow_prediction");
        let vp = serde_json::json!({"_class_name": "UniPCMultistepScheduler"});
        assert!(with_solver(&vp, Solver::Euler).is_err());
    }
}
