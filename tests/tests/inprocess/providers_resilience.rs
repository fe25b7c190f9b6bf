//! The guard against a misbehaving fake provider: breakers open and close, the fallback serves
//! while the primary is open and the primary is probed back, 429 waits are honoured and
//! shared, auth errors flag readiness, limits refuse with a sentence, deadlines hold.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::time::Duration;

use crate::providers_common::{call, call_within, config, quotas, rig, rig_with};
use voice_agent::clock;
use voice_agent::core::quota::{Scope, Unit, Window};
use voice_agent::limits::Now;
use voice_agent::providers::{Capability, ChatMessage, ChatStream, ProviderError, Role};
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi, RetryHint};

fn hello() -> Vec<ChatMessage> {
    vec![ChatMessage { role: Role::User, content: "Hello?".into() }]
}

async fn drain(mut s: ChatStream) -> Result<String, ProviderError> {
    let mut text = String::new();
    while let Some(d) = s.next().await {
        text.push_str(&d?);
    }
    Ok(text)
}

/// Waits (bounded) until the LLM primary's open time has passed.
async fn wait_open_elapsed(p: &voice_agent::providers::Providers) {
    for _ in 0..400 {
        let s = p.readiness(clock::now());
        if s["capabilities"]["llm"]["endpoints"][0]["open_remaining_ms"].is_null() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the breaker never left open");
}

#[tokio::test]
async fn breaker_opens_on_failures_fallback_serves_and_the_primary_is_probed_back() {
    let primary = FakeOpenAi::start().await;
    let fallback = FakeOpenAi::start().await;
    let r = rig(&config(&primary, Some(&fallback)));
    primary.set_default(Endpoint::Chat, Behavior::Status(503));
    // Each call: the primary fails (one retry from the budget, then the fallback serves).
    let mut served_by = Vec::new();
    for _ in 0..5 {
        let s = r.providers.chat(&call(), &hello()).await.unwrap();
        served_by.push(s.provider().clone());
        assert_eq!(drain(s).await.unwrap(), "Hello there, how can I help?");
    }
    assert!(served_by.iter().all(|p| p.contains(&fallback.addr().port().to_string())), "{served_by:?}");
    assert_eq!(r.breaker("llm", 0)["state"], "open");
    assert_eq!(r.breaker("llm", 0)["reason"], "consecutive_failures");
    let now = clock::now();
    assert!(r.providers.is_available(Capability::Llm, now));
    let summary = r.providers.degraded_summary(now).unwrap();
    assert!(summary.contains("the language model runs on a backup provider"), "{summary}");
    assert_eq!(r.providers.readiness(now)["capabilities"]["llm"]["health"], "on_fallback");

    // While open the primary is not asked at all.
    let asked = primary.requests_to(Endpoint::Chat).len();
    drain(r.providers.chat(&call(), &hello()).await.unwrap()).await.unwrap();
    assert_eq!(primary.requests_to(Endpoint::Chat).len(), asked);

    // Healed and the open time passed: the next call is the primary's probe, and it closes.
    primary.heal();
    wait_open_elapsed(&r.providers).await;
    let s = r.providers.chat(&call(), &hello()).await.unwrap();
    assert!(s.provider().contains(&primary.addr().port().to_string()));
    drain(s).await.unwrap();
    assert_eq!(r.breaker("llm", 0)["state"], "closed");
    assert_eq!(r.breaker("llm", 0)["reason"], "probe_succeeded");
    assert_eq!(r.providers.degraded_summary(clock::now()), None);
    let m = r.metrics();
    assert!(m.contains("from=\"closed\",to=\"open\"} 1"), "{m}");
    assert!(m.contains("from=\"open\",to=\"half_open\"} 1"), "{m}");
    assert!(m.contains("from=\"half_open\",to=\"closed\"} 1"), "{m}");
    assert!(m.contains("kind=\"status_5xx\""), "{m}");
}

#[tokio::test]
async fn without_a_fallback_an_open_chain_is_unavailable_and_said_so() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&config(&fake, None));
    fake.set_default(Endpoint::Speech, Behavior::Status(500));
    for _ in 0..5 {
        let e = r.providers.speak(&call(), "Hi.").await.err().unwrap();
        assert!(matches!(e, ProviderError::Unavailable { capability: Capability::Tts, .. }), "{e:?}");
    }
    let now = clock::now();
    assert!(!r.providers.is_available(Capability::Tts, now));
    assert!(r.providers.is_available(Capability::Llm, now));
    let summary = r.providers.degraded_summary(now).unwrap();
    assert!(summary.contains("speech synthesis is unavailable"), "{summary}");
    let e = r.providers.speak(&call(), "Hi.").await.err().unwrap();
    assert!(e.to_string().contains("open (consecutive_failures)"), "{e}");
}

#[tokio::test]
async fn rate_limits_open_for_the_servers_wait_and_are_shared() {
    let fake = FakeOpenAi::start().await;
    let fallback = FakeOpenAi::start().await;
    let r = rig(&config(&fake, Some(&fallback)));
    for (hint, lo, hi) in [
        (RetryHint::Seconds(30), 29_000, 30_000),
        (RetryHint::Millis(45_000), 44_000, 45_000),
        (RetryHint::HttpDate(Duration::from_secs(50)), 48_000, 50_000),
        (RetryHint::ResetHeader("40s"), 39_000, 40_000),
    ] {
        let r = rig(&config(&fake, Some(&fallback)));
        fake.push(Endpoint::Chat, Behavior::RateLimited(hint));
        // Not retried on the same endpoint: the fallback answers at once.
        let s = r.providers.chat(&call(), &hello()).await.unwrap();
        assert!(s.provider().contains(&fallback.addr().port().to_string()));
        drain(s).await.unwrap();
        let b = r.breaker("llm", 0);
        assert_eq!(
            (b["state"].as_str(), b["reason"].as_str()),
            (Some("open"), Some("rate_limited")),
            "{hint:?}"
        );
        let ms = b["open_remaining_ms"].as_u64().unwrap();
        assert!((lo..=hi).contains(&ms), "{hint:?}: open for {ms} ms");
        let name = b["name"].as_str().unwrap();
        let shared = r.limiter.shared_open_remaining(name, Now::read()).await.unwrap();
        assert!(shared.as_millis() as u64 >= lo, "{hint:?}: shared {shared:?}");
    }
    // Another worker's 429 (shared through the limiter) keeps this worker away too.
    let before = fake.requests_to(Endpoint::Chat).len();
    let name = r.breaker("llm", 0)["name"].as_str().unwrap().to_owned();
    r.limiter.share_open(&name, Duration::from_secs(20), Now::read()).await;
    drain(r.providers.chat(&call(), &hello()).await.unwrap()).await.unwrap();
    assert_eq!(fake.requests_to(Endpoint::Chat).len(), before);
    assert_eq!(r.breaker("llm", 0)["reason"], "shared_rate_limited");
}

#[tokio::test]
async fn auth_errors_flag_readiness_without_opening() {
    let fake = FakeOpenAi::start().await;
    let fallback = FakeOpenAi::start().await;
    let r = rig(&config(&fake, None));
    fake.set_default(Endpoint::Transcriptions, Behavior::Unauthorized);
    for _ in 0..6 {
        let e = r.providers.transcribe(&call(), &[0; 1600]).await.unwrap_err();
        assert!(matches!(e, ProviderError::Auth { status: 401, .. }), "{e:?}");
    }
    assert!(r.providers.auth_failed());
    let ready = r.providers.readiness(clock::now());
    assert_eq!(ready["auth_failed"], true);
    assert_eq!(ready["capabilities"]["stt"]["endpoints"][0]["state"], "closed");
    assert!(r.metrics().contains("kind=\"auth\"} 6"));
    // A success clears the flag.
    fake.heal();
    r.providers.transcribe(&call(), &[0; 1600]).await.unwrap();
    assert!(!r.providers.auth_failed());

    // With a fallback, the call is served while the primary refuses us.
    let r = rig(&config(&fake, Some(&fallback)));
    fake.push(Endpoint::Transcriptions, Behavior::Unauthorized);
    let t = r.providers.transcribe(&call(), &[0; 1600]).await.unwrap();
    assert!(t.provider.contains(&fallback.addr().port().to_string()));
    assert!(r.providers.auth_failed());
}

#[tokio::test]
async fn retries_once_before_the_first_byte_and_honours_the_deadline() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&config(&fake, None));
    fake.push(Endpoint::Chat, Behavior::Status(502));
    drain(r.providers.chat(&call(), &hello()).await.unwrap()).await.unwrap();
    assert_eq!(fake.requests_to(Endpoint::Chat).len(), 2, "one retry after a 502");
    assert_eq!(r.breaker("llm", 0)["state"], "closed");

    // Never retried: a 400 and a cut stream (bytes had arrived).
    fake.push(Endpoint::Chat, Behavior::Status(400));
    assert!(r.providers.chat(&call(), &hello()).await.is_err());
    assert_eq!(fake.requests_to(Endpoint::Chat).len(), 3);

    // A hang against the turn's deadline: the caller gets DeadlineExceeded and the fake sees the hang-up.
    fake.set_default(Endpoint::Chat, Behavior::Hang);
    let e = r.providers.chat(&call_within(Duration::from_millis(300)), &hello()).await.err().unwrap();
    assert!(matches!(e, ProviderError::DeadlineExceeded), "{e:?}");
    assert!(fake.wait_idle().await);

    // A slow first byte beyond the attempt timeout is a timeout, retried once.
    let mut cfg = config(&fake, None);
    cfg.llm.timeout = Duration::from_millis(200);
    let r = rig(&cfg);
    fake.heal();
    fake.push(Endpoint::Chat, Behavior::SlowFirstByte(Duration::from_secs(5)));
    let before = fake.requests_to(Endpoint::Chat).len();
    drain(r.providers.chat(&call(), &hello()).await.unwrap()).await.unwrap();
    assert_eq!(fake.requests_to(Endpoint::Chat).len(), before + 2);
    assert!(r.metrics().contains("kind=\"timeout\"} 1"));
    assert!(fake.wait_idle().await);
}

#[tokio::test]
async fn limits_refuse_with_a_sentence_before_any_request() {
    let fake = FakeOpenAi::start().await;
    let mut q = quotas();
    q.set(Scope::Participant, Unit::Turns, Window::Minute, 1);
    let r = rig_with(&config(&fake, None), q);
    drain(r.providers.chat(&call(), &hello()).await.unwrap()).await.unwrap();
    let e = r.providers.chat(&call(), &hello()).await.err().unwrap();
    let ProviderError::Limited { rejection, sentence } = e else { panic!("{e:?}") };
    assert_eq!(rejection.unit, Unit::Turns);
    assert_eq!(sentence, r.limiter.sentence(&rejection));
    assert!(sentence.starts_with("You're speaking faster than I can keep up"), "{sentence}");
    assert_eq!(fake.requests_to(Endpoint::Chat).len(), 1);
}
