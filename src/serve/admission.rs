//! Who may start what, decided before a request's body is read: the queue's capacity (with the
//! requests already being read counted against it), each caller's share of the queue, a token
//! bucket per caller (`governor`), `Idempotency-Key` replays, open event streams, and the decoder
//! slots.
//!
//! A caller is an API key's name, or the client's IP address when the service runs without keys.
//! Limits, stated: the per-caller counts, the rate buckets and the idempotency keys live in this
//! `serve` process (several `serve` processes in front of one Redis each keep their own); an
//! idempotency key is remembered for the result TTL.
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Why a request was refused here (the error code clients see).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The queue (with the requests being read) is at capacity.
    QueueFull,
    /// This caller has `max` jobs unfinished.
    TooManyJobs { max: usize },
    /// Over the rate; retry after this many seconds.
    RateLimited { retry_after: u64 },
    /// Too many event streams open, for this caller (`per_key`) or in all.
    TooManyStreams { per_key: bool, max: usize },
    /// A request with this idempotency key is still being handled.
    IdempotencyInFlight,
}

/// What an `Idempotency-Key` maps to.
#[derive(Clone)]
enum Idem {
    /// A request with it is being handled.
    Pending,
    /// It made this job.
    Done(String),
}

/// The caps.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    pub capacity: usize,
    pub max_queued_per_key: usize,
    /// Requests a minute per caller (0: no limit) and the bucket's size.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    pub max_streams: usize,
    pub max_streams_per_key: usize,
    /// Pictures decoded at once.
    pub decode_slots: usize,
    /// How long an idempotency key is remembered.
    pub idempotency_ttl: Duration,
}

pub struct Admission {
    limits: AdmissionLimits,
    /// Edit requests admitted and not yet queued (their bodies being read and checked).
    admitting: AtomicUsize,
    /// Per caller: requests being admitted, and the ids of the jobs it queued (pruned lazily).
    callers: Mutex<HashMap<String, (usize, Vec<String>)>>,
    rate: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicUsize,
    idem: Mutex<HashMap<(String, String), (Instant, Idem)>>,
    streams: Mutex<(usize, HashMap<String, usize>)>,
    /// Slots of the picture decoder.
    pub decode: tokio::sync::Semaphore,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Admission> {
        let rate = NonZeroU32::new(limits.rate_per_minute).map(|per_min| {
            let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(per_min).allow_burst(burst))
        });
        Arc::new(Admission {
            decode: tokio::sync::Semaphore::new(limits.decode_slots.max(1)),
            limits,
            admitting: AtomicUsize::new(0),
            callers: Mutex::new(HashMap::new()),
            rate,
            checks: AtomicUsize::new(0),
            idem: Mutex::new(HashMap::new()),
            streams: Mutex::new((0, HashMap::new())),
        })
    }

    /// One request of `caller` against its token bucket.
    pub fn check_rate(&self, caller: &str) -> Result<(), Refusal> {
        let Some(r) = &self.rate else { return Ok(()) };
        // Buckets back at full are forgotten now and then, so that many callers (addresses,
        // without keys) cannot grow the table without bound.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            r.retain_recent();
        }
        r.check_key(&caller.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Refusal::RateLimited {
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// Reserves a place for an edit of `caller` before its body is read. `depth` is the queue's
    /// (queued + running) now; `unfinished` tells whether one of the caller's job ids is still
    /// queued or running (asked only when the caller is at its cap).
    pub async fn admit<F, Fut>(
        self: &Arc<Self>,
        caller: &str,
        depth: u64,
        unfinished: F,
    ) -> Result<Ticket, Refusal>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let cap = self.limits.max_queued_per_key;
        let ids = {
            let c = self.callers.lock().unwrap();
            c.get(caller).map(|(a, ids)| (*a, ids.clone()))
        };
        if let Some((admitting, ids)) = ids {
            if admitting + ids.len() >= cap {
                // Prune the caller's finished jobs, then count again.
                let mut alive = Vec::new();
                for id in ids {
                    if unfinished(id.clone()).await {
                        alive.push(id);
                    }
                }
                let mut c = self.callers.lock().unwrap();
                let e = c.entry(caller.to_string()).or_default();
                e.1.retain(|id| alive.contains(id));
                if e.0 + e.1.len() >= cap {
                    return Err(Refusal::TooManyJobs { max: cap });
                }
            }
        }
        let before = self.admitting.fetch_add(1, Ordering::AcqRel);
        if depth + before as u64 >= self.limits.capacity as u64 {
            self.admitting.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::QueueFull);
        }
        self.callers
            .lock()
            .unwrap()
            .entry(caller.to_string())
            .or_default()
            .0 += 1;
        Ok(Ticket {
            adm: self.clone(),
            caller: caller.to_string(),
            idem: None,
        })
    }

    /// Looks up an idempotency key: the job it made, or a reservation for this request.
    pub fn idempotency(&self, caller: &str, key: &str) -> Result<Option<String>, Refusal> {
        let mut m = self.idem.lock().unwrap();
        let ttl = self.limits.idempotency_ttl;
        m.retain(|_, (t, _)| t.elapsed() < ttl);
        match m.get(&(caller.to_string(), key.to_string())) {
            Some((_, Idem::Done(id))) => Ok(Some(id.clone())),
            Some((_, Idem::Pending)) => Err(Refusal::IdempotencyInFlight),
            None => {
                m.insert(
                    (caller.to_string(), key.to_string()),
                    (Instant::now(), Idem::Pending),
                );
                Ok(None)
            }
        }
    }

    /// Releases an idempotency key reserved by a request that was then refused.
    pub fn forget_idempotency(&self, caller: &str, key: &str) {
        self.idem
            .lock()
            .unwrap()
            .remove(&(caller.to_string(), key.to_string()));
    }

    /// Opens an event stream for `caller`, or refuses it past the caps.
    pub fn open_stream(self: &Arc<Self>, caller: &str) -> Result<StreamTicket, Refusal> {
        let mut s = self.streams.lock().unwrap();
        if s.0 >= self.limits.max_streams {
            return Err(Refusal::TooManyStreams {
                per_key: false,
                max: self.limits.max_streams,
            });
        }
        let n = s.1.entry(caller.to_string()).or_insert(0);
        if *n >= self.limits.max_streams_per_key {
            return Err(Refusal::TooManyStreams {
                per_key: true,
                max: self.limits.max_streams_per_key,
            });
        }
        *n += 1;
        s.0 += 1;
        Ok(StreamTicket {
            adm: self.clone(),
            caller: caller.to_string(),
        })
    }
}

/// A place held for an edit being admitted; released when dropped. [`Ticket::queued`] records
/// the job it became.
pub struct Ticket {
    adm: Arc<Admission>,
    caller: String,
    idem: Option<String>,
}

impl Ticket {
    /// Ties this request's idempotency key (already reserved) to the ticket: the key is released
    /// if no job is queued, or remembered with the job.
    pub fn with_idempotency(mut self, key: Option<String>) -> Self {
        self.idem = key;
        self
    }

    /// The job was queued (as `id`).
    pub fn queued(self, id: &str) {
        let adm = self.adm.clone();
        adm.callers
            .lock()
            .unwrap()
            .entry(self.caller.clone())
            .or_default()
            .1
            .push(id.to_string());
        if let Some(k) = &self.idem {
            adm.idem.lock().unwrap().insert(
                (self.caller.clone(), k.clone()),
                (Instant::now(), Idem::Done(id.to_string())),
            );
        }
        let mut t = self;
        t.idem = None;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.adm.admitting.fetch_sub(1, Ordering::AcqRel);
        let mut c = self.adm.callers.lock().unwrap();
        if let Some(e) = c.get_mut(&self.caller) {
            e.0 = e.0.saturating_sub(1);
            if e.0 == 0 && e.1.is_empty() {
                c.remove(&self.caller);
            }
        }
        drop(c);
        if let Some(k) = self.idem.take() {
            self.adm
                .idem
                .lock()
                .unwrap()
                .remove(&(self.caller.clone(), k));
        }
    }
}

/// An open event stream; closed when dropped.
pub struct StreamTicket {
    adm: Arc<Admission>,
    caller: String,
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        let mut s = self.adm.streams.lock().unwrap();
        s.0 = s.0.saturating_sub(1);
        if let Some(n) = s.1.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.1.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> AdmissionLimits {
        AdmissionLimits {
            capacity: 3,
            max_queued_per_key: 2,
            rate_per_minute: 60,
            rate_burst: 2,
            max_streams: 3,
            max_streams_per_key: 2,
            decode_slots: 1,
            idempotency_ttl: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn caps_count_reservations_and_release_them() {
        let a = Admission::new(limits());
        let alive = |_: String| async { true };
        let t1 = a.admit("k1", 0, alive).await.unwrap();
        let t2 = a.admit("k1", 0, alive).await.unwrap();
        // k1 holds two places being read: its cap.
        assert_eq!(
            a.admit("k1", 0, alive).await.err(),
            Some(Refusal::TooManyJobs { max: 2 })
        );
        // The queue: one job in it and two requests being read fill its capacity of 3.
        assert_eq!(
            a.admit("k2", 1, alive).await.err(),
            Some(Refusal::QueueFull)
        );
        t1.queued("edit_a");
        drop(t2);
        // k1 has one job queued: one more place.
        let t3 = a.admit("k1", 1, alive).await.unwrap();
        drop(t3);
        // Its job finished: the cap counts it no more.
        let _t4 = a.admit("k1", 0, |_| async { false }).await.unwrap();
        let _t5 = a.admit("k1", 0, |_| async { false }).await.unwrap();
    }

    #[test]
    fn rate_streams_and_idempotency() {
        let a = Admission::new(limits());
        assert!(a.check_rate("k1").is_ok());
        assert!(a.check_rate("k1").is_ok());
        match a.check_rate("k1") {
            Err(Refusal::RateLimited { retry_after }) => assert!((1..=2).contains(&retry_after)),
            other => panic!("{other:?}"),
        }
        assert!(a.check_rate("k2").is_ok(), "buckets are per caller");
        let s1 = a.open_stream("k1").unwrap();
        let _s2 = a.open_stream("k1").unwrap();
        assert!(matches!(
            a.open_stream("k1"),
            Err(Refusal::TooManyStreams { per_key: true, .. })
        ));
        let _s3 = a.open_stream("k2").unwrap();
        assert!(matches!(
            a.open_stream("k3"),
            Err(Refusal::TooManyStreams { per_key: false, .. })
        ));
        drop(s1);
        assert!(a.open_stream("k1").is_ok());
        assert_eq!(a.idempotency("k1", "x"), Ok(None));
        assert_eq!(a.idempotency("k1", "x"), Err(Refusal::IdempotencyInFlight));
        assert_eq!(a.idempotency("k2", "x"), Ok(None), "keys are per caller");
    }
}
