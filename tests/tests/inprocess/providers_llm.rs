//! Streaming chat against the fake provider over real sockets: incremental deltas, usage and
//! cost, cancellation that really hangs up, and every malformed answer a clean error.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use crate::providers_common::{call, config, rig};
use voice_agent::core::quota::Usage;
use voice_agent::providers::{ChatMessage, ProviderError, Role};
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi};

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage { role: Role::System, content: "You are a helpful voice assistant.".into() },
        ChatMessage { role: Role::User, content: "Hello?".into() },
    ]
}

#[tokio::test]
async fn deltas_arrive_before_the_last_is_sent_and_usage_is_settled() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&config(&fake, None));
    fake.push(Endpoint::Chat, Behavior::HoldBeforeLast);
    let mut s = r.providers.chat(&call(), &messages()).await.unwrap();
    // The fake holds its last delta until released: these can only arrive if the client
    // yields deltas as they come.
    let mut early = Vec::new();
    for _ in 0..5 {
        early.push(s.next().await.unwrap().unwrap());
    }
    assert_eq!(early.concat(), "Hello there, how can I");
    assert!(s.first_token_latency().is_some());
    fake.release(1);
    let mut rest = String::new();
    while let Some(d) = s.next().await {
        rest.push_str(&d.unwrap());
    }
    assert_eq!(rest, " help?");
    assert_eq!(s.usage(), Some((25, 6)));
    assert!(s.provider().starts_with("llm:127.0.0.1:"));

    let req = &fake.requests_to(Endpoint::Chat)[0];
    let body = req.json.as_ref().unwrap();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["content"], "Hello?");
    assert_eq!(req.header("authorization"), Some("Bearer sk-test-key"));

    // The reservation (estimate + max_tokens) was replaced by the provider's real usage.
    assert_eq!(r.used_today("llm_tokens").await, 31);
    let usage = Usage { turns: 1, input_tokens: 25, output_tokens: 6, ..Usage::default() };
    let cost = r.limiter.prices().cost("gpt-4o-mini", &usage);
    assert!(cost > 0);
    assert_eq!(r.cost_today().await, cost);
    let m = r.metrics();
    assert!(m.contains("provider_served_total{capability=\"llm\""), "{m}");
    assert!(m.contains("outcome=\"success\"} 1"), "{m}");
    assert_eq!(r.providers.degraded_summary(voice_agent::clock::now()), None);
}

#[tokio::test]
async fn cancelling_or_dropping_hangs_up_and_is_not_a_failure() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&config(&fake, None));
    // Cancel through the token while the fake holds the stream.
    fake.push(Endpoint::Chat, Behavior::HoldBeforeLast);
    let c = call();
    let mut s = r.providers.chat(&c, &messages()).await.unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), "Hello");
    assert_eq!(fake.active_responses(), 1);
    c.cancel.cancel();
    assert!(s.next().await.unwrap().unwrap_err().is_cancelled());
    assert!(s.next().await.is_none());
    assert!(fake.wait_idle().await, "the connection stayed open after cancellation");

    // Drop the stream mid-way.
    fake.push(Endpoint::Chat, Behavior::HoldBeforeLast);
    let mut s = r.providers.chat(&call(), &messages()).await.unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), "Hello");
    drop(s);
    assert!(fake.wait_idle().await, "the connection stayed open after the stream was dropped");
    fake.release(2);

    // A cancelled call whose request hangs.
    fake.push(Endpoint::Chat, Behavior::Hang);
    let c = call();
    let cancel = c.cancel.clone();
    let providers = r.providers.clone();
    let pending = tokio::spawn(async move { providers.chat(&c, &messages()).await.map(|_| ()) });
    assert!(fake.wait_requests(Endpoint::Chat, 3).await);
    cancel.cancel();
    assert!(pending.await.unwrap().unwrap_err().is_cancelled());
    assert!(fake.wait_idle().await);

    let m = r.metrics();
    assert!(m.contains("outcome=\"ignored\"} 3"), "{m}");
    assert!(!m.contains("outcome=\"failure\""), "{m}");
    assert_eq!(r.breaker("llm", 0)["state"], "closed");
    // Whatever was used before the hang-up is charged; the settlement of a dropped stream
    // runs in the background, so wait for it.
    assert!(crate::providers_common::wait_tasks_done_except(1).await);
    assert!(r.used_today("turns").await >= 3);
}

#[tokio::test]
async fn every_malformed_answer_is_a_clean_error() {
    let fake = FakeOpenAi::start().await;
    let mut cfg = config(&fake, None);
    cfg.max_body_bytes = 64 * 1024;
    let r = rig(&cfg);
    for b in [
        Behavior::Status(400),
        Behavior::MalformedSse,
        Behavior::MalformedJson,
        Behavior::CutMidStream,
        Behavior::WrongContentType,
        Behavior::HugeBody(1 << 20),
    ] {
        fake.push(Endpoint::Chat, b.clone());
        let err = match r.providers.chat(&call(), &messages()).await {
            Err(e) => e,
            Ok(mut s) => loop {
                match s.next().await {
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break e,
                    None => panic!("{b:?} ended as if complete"),
                }
            },
        };
        assert!(
            matches!(err, ProviderError::Stream { .. } | ProviderError::Unavailable { .. }),
            "{b:?}: {err:?}"
        );
        assert!(!err.to_string().is_empty());
    }
    assert!(fake.wait_idle().await);
    // Protocol breakage counts against the provider; a 400 says nothing about its health.
    let m = r.metrics();
    assert!(m.contains("outcome=\"failure\"} 5"), "{m}");
    assert!(m.contains("outcome=\"ignored\"} 1"), "{m}");
    assert!(m.contains("kind=\"malformed\"} 4"), "{m}");
    assert!(m.contains("kind=\"cut\"} 1"), "{m}");
    // Five failures in a row: the breaker is open and the next call fails fast.
    assert_eq!(r.breaker("llm", 0)["state"], "open");
    let before = fake.requests().len();
    let err = r.providers.chat(&call(), &messages()).await.err().unwrap();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert_eq!(fake.requests().len(), before);
}
