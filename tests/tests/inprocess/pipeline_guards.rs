//! Providers and limits chosen in code, through the pipeline builder, get the guard the
//! environment's get: the code-chosen primary's breaker opens on failures while the
//! code-chosen fallback serves, and a code-chosen limit refuses with its sentence before any
//! request.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use crate::providers_common::{call, rig_with};
use voice_agent::core::quota::{Scope, Unit, Window};
use voice_agent::pipeline::{Limits, OpenAiCompatible, Pipeline};
use voice_agent::providers::{ChatMessage, ChatStream, ProviderError, Role};
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi};

async fn drain(mut s: ChatStream) -> Result<String, ProviderError> {
    let mut text = String::new();
    while let Some(d) = s.next().await {
        text.push_str(&d?);
    }
    Ok(text)
}

#[tokio::test]
async fn code_chosen_endpoints_get_breakers_fallbacks_and_limits() {
    let (primary, backup) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    primary.set_default(Endpoint::Chat, Behavior::Status(503));
    let pipeline = Pipeline::builder()
        .llm(OpenAiCompatible::new(primary.base_url()).api_key("sk-code"))
        .llm_fallback(OpenAiCompatible::new(backup.base_url()).model("backup-llm"))
        .limits(Limits::none().limit(Scope::Participant, Unit::Turns, Window::Minute, 6))
        .build()
        .unwrap();
    let r = rig_with(pipeline.providers(), pipeline.limits().quotas.clone());
    let hello = [ChatMessage { role: Role::User, content: "Hello?".into() }];
    for _ in 0..6 {
        let s = r.providers.chat(&call(), &hello).await.unwrap();
        assert!(s.provider().contains("backup-llm"), "{}", s.provider());
        assert_eq!(drain(s).await.unwrap(), "Hello there, how can I help?");
    }
    // Five failures in a row opened the primary's breaker: later turns skip it.
    assert_eq!(r.breaker("llm", 0)["state"], "open");
    assert_eq!(r.breaker("llm", 0)["reason"], "consecutive_failures");
    let tried = primary.requests_to(Endpoint::Chat).len();
    assert!((5..=10).contains(&tried), "{tried} requests to the open primary");
    assert_eq!(primary.requests_to(Endpoint::Chat)[0].header("authorization"), Some("Bearer sk-code"));
    // The seventh turn in a minute is over the code-chosen limit: refused with its sentence.
    let e = r.providers.chat(&call(), &hello).await.err().unwrap();
    let ProviderError::Limited { rejection, sentence } = e else { panic!("{e:?}") };
    assert_eq!((rejection.scope, rejection.unit), (Scope::Participant, Unit::Turns));
    assert!(sentence.starts_with("You're speaking faster than I can keep up"), "{sentence}");
    assert_eq!(backup.requests_to(Endpoint::Chat).len(), 6);
}
