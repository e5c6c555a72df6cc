//! Metrics in the Prometheus text format (version 0.0.4), written out directly: counters kept as
//! named sums (in the process for the embedded queue, in one Redis hash shared by every worker for
//! the Redis queue, so that any `serve` process reports the whole fleet), gauges read from the queue
//! at scrape time.
use std::collections::BTreeMap;
use std::fmt::Write;

/// Upper bounds (seconds) of the edit-time histogram's buckets.
pub const EDIT_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// Counter increments, `(field, amount)`; fields are `kind|label|label...`.
pub type Deltas = Vec<(String, f64)>;

/// A job entered the queue.
pub fn submitted() -> Deltas {
    vec![("jobs|submitted".into(), 1.0)]
}

/// A job was refused because the queue was full.
pub fn rejected() -> Deltas {
    vec![("rejected|queue_full".into(), 1.0)]
}

/// A queued job was cancelled.
pub fn cancelled() -> Deltas {
    vec![("jobs|cancelled".into(), 1.0)]
}

/// A job failed.
pub fn failed() -> Deltas {
    vec![("jobs|failed".into(), 1.0)]
}

/// A job failed after `--max-attempts` starts (its worker died or stalled each time).
pub fn dead_lettered() -> Deltas {
    vec![("jobs|failed".into(), 1.0), ("dead_letter".into(), 1.0)]
}

/// A job succeeded: its edit time by recipe and tier, its transformer FLOPs.
pub fn succeeded(recipe: &str, tier: &str, seconds: f64, flops: f64) -> Deltas {
    let recipe = clean(recipe);
    let tier = clean(tier);
    let bucket = EDIT_BUCKETS
        .iter()
        .position(|&b| seconds <= b)
        .unwrap_or(EDIT_BUCKETS.len());
    vec![
        ("jobs|succeeded".into(), 1.0),
        (format!("edit_bucket|{recipe}|{tier}|{bucket}"), 1.0),
        (format!("edit_sum|{recipe}|{tier}"), seconds),
        (format!("edit_count|{recipe}|{tier}"), 1.0),
        (format!("flops|{recipe}"), flops),
    ]
}

fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Gauges read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub queued: u64,
    pub running: u64,
    pub capacity: u64,
    /// Whether the service accepts edits (model loaded where it runs locally, queue reachable).
    pub ready: bool,
    /// Workers in this process.
    pub local_workers: u64,
}

/// Mean edit seconds over every recipe and tier (None before the first edit): for `Retry-After`.
pub fn mean_edit_seconds(stats: &BTreeMap<String, f64>) -> Option<f64> {
    let (mut sum, mut count) = (0.0, 0.0);
    for (k, v) in stats {
        if k.starts_with("edit_sum|") {
            sum += v;
        } else if k.starts_with("edit_count|") {
            count += v;
        }
    }
    (count > 0.0).then(|| sum / count)
}

/// The text format of the service's metrics.
pub fn render(stats: &BTreeMap<String, f64>, gauges: &Gauges, http: &BTreeMap<u16, u64>) -> String {
    let mut out = String::new();
    let get = |k: &str| stats.get(k).copied().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "# HELP physedit_queue_depth Jobs waiting in the queue.\n# TYPE physedit_queue_depth gauge\nphysedit_queue_depth {}",
        gauges.queued
    );
    let _ = writeln!(
        out,
        "# HELP physedit_queue_capacity Most jobs the queue holds (queued and running) before answering 429.\n# TYPE physedit_queue_capacity gauge\nphysedit_queue_capacity {}",
        gauges.capacity
    );
    let _ = writeln!(
        out,
        "# HELP physedit_jobs Jobs by state now.\n# TYPE physedit_jobs gauge\nphysedit_jobs{{state=\"queued\"}} {}\nphysedit_jobs{{state=\"running\"}} {}",
        gauges.queued, gauges.running
    );
    let _ = writeln!(
        out,
        "# HELP physedit_jobs_total Jobs by outcome since the queue was created.\n# TYPE physedit_jobs_total counter"
    );
    for s in ["submitted", "succeeded", "failed", "cancelled"] {
        let _ = writeln!(
            out,
            "physedit_jobs_total{{state=\"{s}\"}} {}",
            get(&format!("jobs|{s}"))
        );
    }
    let _ = writeln!(
        out,
        "# HELP physedit_rejected_total Requests refused with 429 because the queue was full.\n# TYPE physedit_rejected_total counter\nphysedit_rejected_total {}",
        get("rejected|queue_full")
    );
    let _ = writeln!(
        out,
        "# HELP physedit_dead_letters_total Jobs failed because their worker died or stalled in them --max-attempts times.\n# TYPE physedit_dead_letters_total counter\nphysedit_dead_letters_total {}",
        get("dead_letter")
    );
    let _ = writeln!(
        out,
        "# HELP physedit_ready Whether this server accepts edits.\n# TYPE physedit_ready gauge\nphysedit_ready {}",
        gauges.ready as u8
    );
    let _ = writeln!(
        out,
        "# HELP physedit_local_workers Workers running inside this server process.\n# TYPE physedit_local_workers gauge\nphysedit_local_workers {}",
        gauges.local_workers
    );

    // Histogram of edit seconds by recipe and tier.
    let mut series: BTreeMap<(String, String), ([f64; EDIT_BUCKETS.len() + 1], f64, f64)> =
        BTreeMap::new();
    for (k, v) in stats {
        let parts: Vec<&str> = k.split('|').collect();
        match parts.as_slice() {
            ["edit_bucket", r, t, i] => {
                if let Ok(i) = i.parse::<usize>() {
                    if i <= EDIT_BUCKETS.len() {
                        series
                            .entry((r.to_string(), t.to_string()))
                            .or_insert(([0.0; EDIT_BUCKETS.len() + 1], 0.0, 0.0))
                            .0[i] += v;
                    }
                }
            }
            ["edit_sum", r, t] => {
                series
                    .entry((r.to_string(), t.to_string()))
                    .or_insert(([0.0; EDIT_BUCKETS.len() + 1], 0.0, 0.0))
                    .1 += v
            }
            ["edit_count", r, t] => {
                series
                    .entry((r.to_string(), t.to_string()))
                    .or_insert(([0.0; EDIT_BUCKETS.len() + 1], 0.0, 0.0))
                    .2 += v
            }
            _ => {}
        }
    }
    let _ = writeln!(
        out,
        "# HELP physedit_edit_seconds Seconds a worker spent on a successful job (all its pictures), by recipe and planned tier.\n# TYPE physedit_edit_seconds histogram"
    );
    for ((r, t), (buckets, sum, count)) in &series {
        let mut cum = 0.0;
        for (i, b) in EDIT_BUCKETS.iter().enumerate() {
            cum += buckets[i];
            let _ = writeln!(
                out,
                "physedit_edit_seconds_bucket{{recipe=\"{r}\",tier=\"{t}\",le=\"{b}\"}} {cum}"
            );
        }
        cum += buckets[EDIT_BUCKETS.len()];
        let _ = writeln!(
            out,
            "physedit_edit_seconds_bucket{{recipe=\"{r}\",tier=\"{t}\",le=\"+Inf\"}} {cum}"
        );
        let _ = writeln!(
            out,
            "physedit_edit_seconds_sum{{recipe=\"{r}\",tier=\"{t}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "physedit_edit_seconds_count{{recipe=\"{r}\",tier=\"{t}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP physedit_transformer_flops_total Transformer FLOPs executed by successful jobs (cost model on the tokens computed), by recipe.\n# TYPE physedit_transformer_flops_total counter"
    );
    for (k, v) in stats {
        if let Some(r) = k.strip_prefix("flops|") {
            let _ = writeln!(
                out,
                "physedit_transformer_flops_total{{recipe=\"{r}\"}} {v}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP physedit_http_responses_total HTTP responses of this server process by status code.\n# TYPE physedit_http_responses_total counter"
    );
    for (code, n) in http {
        let _ = writeln!(out, "physedit_http_responses_total{{code=\"{code}\"}} {n}");
    }
    out
}

/// Upper bounds (seconds) of the picture-decoding histogram's buckets.
pub const DECODE_BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// What this `serve` process counts of its HTTP traffic (in the process, not shared).
#[derive(Debug, Clone, Default)]
pub struct HttpStats {
    /// Responses by route (the matched pattern, such as `/v1/edits/{id}`) and status.
    pub requests: BTreeMap<(String, u16), u64>,
    /// Requests refused, by reason (the error code: `queue_full`, `rate_limited`,
    /// `invalid_api_key`, ...).
    pub rejections: BTreeMap<String, u64>,
    /// Picture decodes: counts per bucket (the last is +Inf), sum of seconds.
    pub decode_buckets: [u64; DECODE_BUCKETS.len() + 1],
    pub decode_sum: f64,
}

impl HttpStats {
    pub fn decoded(&mut self, seconds: f64) {
        let i = DECODE_BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(DECODE_BUCKETS.len());
        self.decode_buckets[i] += 1;
        self.decode_sum += seconds;
    }

    /// Responses by status alone.
    pub fn by_status(&self) -> BTreeMap<u16, u64> {
        let mut m = BTreeMap::new();
        for ((_, code), n) in &self.requests {
            *m.entry(*code).or_insert(0) += n;
        }
        m
    }
}

/// The text format of [`HttpStats`].
pub fn render_http(s: &HttpStats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP physedit_http_requests_total HTTP requests of this server process by route and status code.\n# TYPE physedit_http_requests_total counter"
    );
    for ((route, code), n) in &s.requests {
        let _ = writeln!(
            out,
            "physedit_http_requests_total{{route=\"{}\",code=\"{code}\"}} {n}",
            clean_route(route)
        );
    }
    let _ = writeln!(
        out,
        "# HELP physedit_http_rejections_total Requests this server process refused, by reason.\n# TYPE physedit_http_rejections_total counter"
    );
    for (reason, n) in &s.rejections {
        let _ = writeln!(
            out,
            "physedit_http_rejections_total{{reason=\"{}\"}} {n}",
            clean(reason)
        );
    }
    let _ = writeln!(
        out,
        "# HELP physedit_decode_seconds Seconds spent decoding and checking uploaded pictures.\n# TYPE physedit_decode_seconds histogram"
    );
    let mut cum = 0;
    for (i, b) in DECODE_BUCKETS.iter().enumerate() {
        cum += s.decode_buckets[i];
        let _ = writeln!(out, "physedit_decode_seconds_bucket{{le=\"{b}\"}} {cum}");
    }
    cum += s.decode_buckets[DECODE_BUCKETS.len()];
    let _ = writeln!(out, "physedit_decode_seconds_bucket{{le=\"+Inf\"}} {cum}");
    let _ = writeln!(out, "physedit_decode_seconds_sum {}", s.decode_sum);
    let _ = writeln!(out, "physedit_decode_seconds_count {cum}");
    out
}

fn clean_route(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_/{}.".contains(*c))
        .collect()
}
