//! Shared set-up for the provider tests: `Providers` wired to fake servers with a real
//! in-memory limiter and real metrics.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses part of it; a failed unwrap fails the test

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use voice_agent::clock;
use voice_agent::core::quota::{Quotas, Scope, Unit, Window};
use voice_agent::limits::{Limiter, LimitsConfig, Now};
use voice_agent::providers::{Call, Capability, EndpointConfig, Providers, ProvidersConfig};
use voice_agent_tests::fake_openai::FakeOpenAi;

/// Providers under test, with what they report into.
pub struct Rig {
    pub providers: Arc<Providers>,
    pub limiter: Arc<Limiter>,
    pub registry: Registry,
}

pub fn endpoint(fake: &FakeOpenAi, model: &str) -> EndpointConfig {
    EndpointConfig { base_url: fake.base_url(), api_key: Some("sk-test-key".into()), model: model.into() }
}

/// Every capability on `primary` (then `fallback`), breakers that re-open quickly and without
/// jitter so a test can wait out an open breaker.
pub fn config(primary: &FakeOpenAi, fallback: Option<&FakeOpenAi>) -> ProvidersConfig {
    let mut c = ProvidersConfig::default();
    for (cap, model) in
        [(Capability::Llm, "gpt-4o-mini"), (Capability::Tts, "tts-1"), (Capability::Stt, "whisper-1")]
    {
        let mut eps = vec![endpoint(primary, model)];
        if let Some(f) = fallback {
            eps.push(endpoint(f, model));
        }
        let cc = match cap {
            Capability::Llm => &mut c.llm,
            Capability::Tts => &mut c.tts,
            Capability::Stt => &mut c.stt,
        };
        cc.endpoints = eps;
    }
    for b in [&mut c.breakers.llm, &mut c.breakers.tts, &mut c.breakers.stt] {
        b.open_base = Duration::from_millis(200);
        b.jitter = 0.0;
    }
    c
}

/// Default quotas plus daily token, character and audio limits so `/stats` shows them.
pub fn quotas() -> Quotas {
    let mut q = Quotas::default();
    q.set(Scope::Participant, Unit::LlmTokens, Window::Day, 1_000_000);
    q.set(Scope::Participant, Unit::TtsChars, Window::Day, 1_000_000);
    q.set(Scope::Participant, Unit::SttMillis, Window::Day, 10_000_000);
    q
}

pub fn rig(cfg: &ProvidersConfig) -> Rig {
    rig_with(cfg, quotas())
}

pub fn rig_with(cfg: &ProvidersConfig, quotas: Quotas) -> Rig {
    let mut registry = Registry::default();
    let rm = voice_agent::limits::register_metrics(&mut registry);
    let pm = voice_agent::providers::register_metrics(&mut registry);
    let lc = LimitsConfig { quotas, ..LimitsConfig::default() };
    let limiter = Arc::new(Limiter::new(&lc, rm.clone(), "test", clock::now()).unwrap());
    let providers = Arc::new(Providers::new(cfg, Arc::clone(&limiter), rm, pm).unwrap());
    Rig { providers, limiter, registry }
}

impl Rig {
    pub fn metrics(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).unwrap();
        text
    }

    /// `(current)` of one daily limit of participant `alice`.
    pub async fn used_today(&self, unit: &str) -> u64 {
        let s = self.limiter.stats(Some("alice"), None, Now::read()).await;
        let p = s.participant.unwrap();
        p.limits.iter().find(|l| l.unit == unit && l.window == "day").map(|l| l.current).unwrap()
    }

    pub async fn cost_today(&self) -> u64 {
        let s = self.limiter.stats(Some("alice"), None, Now::read()).await;
        s.participant.unwrap().cost.today_micro_usd
    }

    /// The readiness entry of endpoint `rank` of `cap`.
    pub fn breaker(&self, cap: &str, rank: usize) -> serde_json::Value {
        self.providers.readiness(clock::now())["capabilities"][cap]["endpoints"][rank].clone()
    }
}

/// A call for `alice` with a generous deadline.
pub fn call() -> Call {
    call_within(Duration::from_secs(30))
}

pub fn call_within(d: Duration) -> Call {
    Call {
        participant: Arc::from("alice"),
        room: Arc::from("room-1"),
        deadline: clock::now() + d,
        cancel: CancellationToken::new(),
    }
}

/// Waits (bounded) until every reservation settled in the background has landed and every
/// task of this runtime but the caller's has ended.
pub async fn wait_tasks_done() -> bool {
    let rt = tokio::runtime::Handle::current();
    for _ in 0..2000 {
        if rt.metrics().num_alive_tasks() == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// Like [`wait_tasks_done`], allowing `n` tasks the test itself keeps (its fake server's).
pub async fn wait_tasks_done_except(n: usize) -> bool {
    let rt = tokio::runtime::Handle::current();
    for _ in 0..2000 {
        if rt.metrics().num_alive_tasks() <= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}
