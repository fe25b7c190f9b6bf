//! The limiter facade a session calls once per provider request: prices the request, asks the
//! store (memory or shared), counts rejections and cost warnings, and turns rejections into
//! sentences.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::config::LimitsConfig;
use super::memory::MemoryStore;
use super::metrics::ResilienceMetrics;
use super::redis::{RedisStore, RedisStoreError};
use super::shared::SharedStore;
use super::stats::Stats;
use super::store::{Decision, LimitStore, Mode, Now, Request, Reservation, SessionLease};
use crate::core::cost::PriceTable;
use crate::core::ledger::{CostWarnings, Rejection};
use crate::core::messages::Messages;
use crate::core::quota::Usage;
use crate::core::transcript::cap_transcript;

/// One provider request to be limited.
#[derive(Debug, Clone, Copy)]
pub struct LimitRequest<'a> {
    /// Participant identity.
    pub participant: &'a Arc<str>,
    /// Room name.
    pub room: &'a Arc<str>,
    /// Model name (prices the request).
    pub model: &'a str,
    /// What to reserve: turns, prompt estimate + max_tokens, TTS characters, STT audio.
    pub usage: Usage,
}

/// Where limits are counted.
enum Backend {
    Memory(Box<MemoryStore>),
    Shared(Box<SharedStore>),
}

/// The limiter: one per worker, shared by every session (`Arc<Limiter>`).
pub struct Limiter {
    backend: Backend,
    prices: PriceTable,
    messages: Messages,
    transcript_max_chars: usize,
    metrics: ResilienceMetrics,
    /// The mode last written to the gauge (index into [`Mode::ALL`]), so the gauge is only
    /// touched on a change, not on every decision.
    mode_seen: AtomicUsize,
}

impl Limiter {
    /// Builds the limiter from configuration. With Redis configured it connects in the
    /// background (so this needs a tokio runtime) and starts degraded until Redis answers.
    pub fn new(
        cfg: &LimitsConfig,
        metrics: ResilienceMetrics,
        worker_id: &str,
        now: Instant,
    ) -> Result<Self, RedisStoreError> {
        let local = MemoryStore::new(cfg.quotas.clone(), cfg.max_keys, now);
        let backend = match &cfg.redis {
            None => Backend::Memory(Box::new(local)),
            Some(r) => {
                let redis = RedisStore::new(
                    r.url.expose(),
                    &r.key_prefix,
                    cfg.quotas.clone(),
                    worker_id,
                    r.session_lease,
                )?;
                Backend::Shared(Box::new(SharedStore::new(
                    redis,
                    local,
                    r.shared.clone(),
                    metrics.clone(),
                    now,
                )))
            }
        };
        let limiter = Self {
            backend,
            prices: cfg.prices.clone(),
            messages: cfg.messages.clone(),
            transcript_max_chars: cfg.transcript_max_chars,
            metrics,
            mode_seen: AtomicUsize::new(usize::MAX),
        };
        limiter.observe_mode();
        Ok(limiter)
    }

    /// Checks a request and reserves it in every scope, or refuses it (nothing charged).
    pub async fn check(&self, req: &LimitRequest<'_>, now: Now) -> Decision {
        let mut usage = req.usage;
        usage.cost_micro_usd = self.prices.cost(req.model, &usage);
        let r = Request { participant: req.participant, room: req.room, usage };
        let d = match &self.backend {
            Backend::Memory(s) => s.check(r, now).await,
            Backend::Shared(s) => s.check(r, now).await,
        };
        match &d {
            Decision::Allowed { warnings, .. } => self.warn(*warnings, req.model),
            Decision::Rejected(r) => {
                self.metrics.rejection(r);
                tracing::info!(
                    scope = r.scope.as_str(),
                    unit = r.unit.as_str(),
                    window = r.window.as_str(),
                    retry_after_ms = r.retry_after.as_millis() as u64,
                    "limit reached"
                );
            }
        }
        self.observe_mode();
        d
    }

    /// Replaces a reservation by the real usage on `model`.
    pub async fn settle(&self, reservation: &Reservation, model: &str, actual: Usage, now: Now) {
        let mut actual = actual;
        actual.cost_micro_usd = self.prices.cost(model, &actual);
        let w = match &self.backend {
            Backend::Memory(s) => s.settle(reservation, &actual, now).await,
            Backend::Shared(s) => s.settle(reservation, &actual, now).await,
        };
        self.warn(w, model);
    }

    fn warn(&self, w: CostWarnings, model: &str) {
        if w.0 != 0 {
            self.metrics.cost_warnings(w);
            for scope in w.scopes() {
                tracing::warn!(
                    scope = scope.as_str(),
                    model,
                    "daily spend passed the cost-cap warning share"
                );
            }
        }
    }

    /// Takes a concurrent-session slot (participant, room, global), or refuses.
    pub async fn acquire_session(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        now: Now,
    ) -> Result<SessionLease, Rejection> {
        let r = match &self.backend {
            Backend::Memory(s) => s.acquire_session(participant, room, now).await,
            Backend::Shared(s) => s.acquire_session(participant, room, now).await,
        };
        if let Err(rej) = &r {
            self.metrics.rejection(rej);
        }
        r
    }

    /// Gives a session slot back.
    pub async fn release_session(&self, lease: SessionLease, now: Now) {
        match &self.backend {
            Backend::Memory(s) => s.release_session(lease, now).await,
            Backend::Shared(s) => s.release_session(lease, now).await,
        }
    }

    /// Tells every worker that provider breaker `breaker` got a 429 asking for `wait`.
    pub async fn share_open(&self, breaker: &str, wait: Duration, now: Now) {
        match &self.backend {
            Backend::Memory(s) => s.share_open(breaker, wait, now).await,
            Backend::Shared(s) => s.share_open(breaker, wait, now).await,
        }
    }

    /// How long `breaker` must stay open because some worker saw a 429.
    pub async fn shared_open_remaining(&self, breaker: &str, now: Now) -> Option<Duration> {
        match &self.backend {
            Backend::Memory(s) => s.shared_open_remaining(breaker, now).await,
            Backend::Shared(s) => s.shared_open_remaining(breaker, now).await,
        }
    }

    /// The `/stats` snapshot for an identity and/or room, plus global.
    pub async fn stats(&self, participant: Option<&str>, room: Option<&str>, now: Now) -> Stats {
        match &self.backend {
            Backend::Memory(s) => s.stats(participant, room, now).await,
            Backend::Shared(s) => s.stats(participant, room, now).await,
        }
    }

    fn observe_mode(&self) {
        let mode = self.mode();
        let i = Mode::ALL.iter().position(|m| *m == mode).unwrap_or(0);
        if self.mode_seen.swap(i, Ordering::Relaxed) != i {
            self.metrics.limiter_mode(mode);
        }
    }

    /// How limits are decided right now.
    pub fn mode(&self) -> Mode {
        match &self.backend {
            Backend::Memory(s) => s.mode(),
            Backend::Shared(s) => s.mode(),
        }
    }

    /// The number of workers this one shares the limits with (N; 1 without Redis).
    pub fn workers(&self) -> u64 {
        match &self.backend {
            Backend::Memory(_) => 1,
            Backend::Shared(s) => s.workers(),
        }
    }

    /// Periodic upkeep — call every few seconds (see [`Limiter::spawn_maintenance`]).
    pub async fn maintain(&self, now: Now) {
        match &self.backend {
            Backend::Memory(s) => {
                s.prune(now);
            }
            Backend::Shared(s) => s.maintain(now).await,
        }
        self.observe_mode();
    }

    /// Runs [`Limiter::maintain`] every `every` — sooner while Redis is away or local
    /// decisions wait to be merged, and at once when the shared store asks — until the task is
    /// aborted.
    pub fn spawn_maintenance(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                this.maintain(Now::read()).await;
                match &this.backend {
                    Backend::Memory(_) => tokio::time::sleep(every).await,
                    Backend::Shared(s) => {
                        let wait = s.upkeep_within(every);
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = s.wake().notified() => {}
                        }
                    }
                }
            }
        })
    }

    /// What to say to the user for a rejection.
    pub fn sentence(&self, r: &Rejection) -> String {
        self.messages.sentence(r)
    }

    /// The transcript cut to `TRANSCRIPT_MAX_CHARS` (flag: something was cut).
    pub fn cap_transcript<'t>(&self, text: &'t str) -> (&'t str, bool) {
        cap_transcript(text, self.transcript_max_chars)
    }

    /// The price table.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::core::quota::{Scope, Unit, Window};
    use prometheus_client::registry::Registry;

    #[tokio::test]
    async fn in_memory_limiter_prices_limits_counts_and_speaks() {
        let mut registry = Registry::default();
        let metrics = super::super::register_metrics(&mut registry);
        let cfg = LimitsConfig { transcript_max_chars: 10, ..LimitsConfig::default() };
        let limiter = Limiter::new(&cfg, metrics, "w", clock::now()).unwrap();
        assert_eq!(limiter.mode(), Mode::Local);
        let (alice, room) = (Arc::<str>::from("alice"), Arc::<str>::from("room"));
        let usage = Usage { turns: 1, input_tokens: 1000, output_tokens: 1000, ..Usage::default() };
        let req = LimitRequest { participant: &alice, room: &room, model: "gpt-4o-mini", usage };
        let now = Now::read();
        let Decision::Allowed { reservation, .. } = limiter.check(&req, now).await else { panic!("refused") };
        // 1000 × $0.15/M + 1000 × $0.60/M = 750 micro-USD, priced by the facade.
        assert_eq!(reservation.reserved().cost_micro_usd, 750);
        limiter
            .settle(
                &reservation,
                "gpt-4o-mini",
                Usage { turns: 1, input_tokens: 1000, ..Usage::default() },
                now,
            )
            .await;
        let stats = limiter.stats(Some("alice"), None, now).await;
        assert_eq!(stats.participant.unwrap().cost.today_micro_usd, 150);
        for _ in 0..19 {
            assert!(matches!(limiter.check(&req, now).await, Decision::Allowed { .. }));
        }
        let Decision::Rejected(r) = limiter.check(&req, now).await else {
            panic!("21st turn in a minute passed")
        };
        assert_eq!((r.scope, r.unit, r.window), (Scope::Participant, Unit::Turns, Window::Minute));
        assert_eq!(limiter.sentence(&r), "You're speaking faster than I can keep up — give me a moment.");
        assert_eq!(limiter.cap_transcript("hello there world"), ("hello ther", true));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"limiter_rejections_total{scope="participant",unit="turns",window="minute"} 1"#)
        );
        assert!(text.contains(r#"limiter_mode{mode="local"} 1"#), "{text}");
    }
}
