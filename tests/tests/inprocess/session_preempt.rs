//! A preemptive reply discarded because the user went on, through the real guarded providers
//! against the fake server (real sockets, an in-memory room, scripted ears and a scripted
//! end-of-turn model that takes its time): the prepared request really hangs up, the breaker
//! hears a cancellation and not a failure, the limiter counts what was sent, and the history
//! of the answer that is heard holds nothing of it.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use voice_agent::clock;
use voice_agent::core::endpoint::SmartEndpointing;
use voice_agent::livekit::room::CloseReason;
use voice_agent::livekit::room::memory;
use voice_agent::session::end_of_turn::ScriptedEndOfTurn;
use voice_agent::session::hearing::ScriptedEars;
use voice_agent::session::{Session, SessionConfig};
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi};

use crate::providers_common::{config, rig};

/// Waits (bounded) for `f`.
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 20 s");
}

fn last_user_message(r: &voice_agent_tests::fake_openai::LoggedRequest) -> String {
    let messages = r.json.as_ref().and_then(|j| j["messages"].as_array().cloned()).unwrap_or_default();
    let user = messages.iter().rev().find(|m| m["role"] == "user");
    user.and_then(|m| m["content"].as_str()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_discarded_preemptive_reply_hangs_up_is_no_breaker_failure_and_is_counted() {
    let fake = FakeOpenAi::start().await;
    fake.edit_replies(|r| r.transcript = "book a table".into());
    // The prepared answer's stream is still open when it is dropped (the fake holds its last
    // delta until released).
    fake.push(Endpoint::Chat, Behavior::HoldBeforeLast);
    let r = rig(&config(&fake, None));
    // The model says "finished" after 1.5 s; until then neither the silence (5 s) nor the
    // model's time limit (5 s) takes the turn — so only the verdict ends it, long after she
    // has gone on.
    let smart = SmartEndpointing { model_wait: Duration::from_secs(5), ..SmartEndpointing::default() };
    let mut cfg = SessionConfig { greeting: None, ..SessionConfig::default() };
    cfg.turn.endpointing_delay = Duration::from_secs(5);
    cfg.turn.smart = Some(smart);
    assert!(cfg.turn.preemptive);
    let model = ScriptedEndOfTurn::new(vec![Ok(0.97)]).with_delay(Duration::from_millis(1500));
    let ears = ScriptedEars::new();
    let session = Session::new(cfg, r.providers.clone(), Arc::new(ears.clone()), r.limiter.clone())
        .with_end_of_turn(Arc::new(model));
    let (room, far) = memory::pair("room-1", "agent");
    let cancel = CancellationToken::new();
    let run = {
        let cancel = cancel.clone();
        tokio::spawn(async move { session.run(room, cancel).await })
    };
    let _mic = far.join("alice").await;
    until("listening", || ears.listening("alice")).await;

    // "I'd like to book a table" — a pause — the reply is prepared at once.
    assert!(ears.speech_started("alice", clock::now()).await);
    assert!(ears.speech_ended("alice", clock::now(), vec![0; 16_000]).await);
    assert!(fake.wait_requests(Endpoint::Chat, 1).await, "no reply prepared");
    assert_eq!(far.playback().played_samples, 0);
    // She goes on before the verdict: "for four people".
    assert!(ears.speech_started("alice", clock::now()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ears.speech_ended("alice", clock::now(), vec![0; 8_000]).await);
    assert!(fake.wait_requests(Endpoint::Chat, 2).await, "the whole sentence was not asked");
    // The first request hung up: only the second one's stream may still be open.
    until("the prepared request hung up", || fake.active_responses() <= 1).await;
    // The whole sentence is answered and heard.
    until("the answer heard", || far.playback().played_samples > 0).await;
    let chats = fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 2);
    assert_eq!(last_user_message(&chats[0]), "book a table");
    assert_eq!(last_user_message(&chats[1]), "book a table book a table");
    let roles: Vec<_> = chats[1].json.as_ref().unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles, ["system", "user"], "nothing of the dropped reply in the history");

    far.close(CloseReason::Disconnected("test over".into())).await;
    assert!(run.await.unwrap().is_ok());
    fake.release(1);
    // A dropped stream settles the limiter in the background: wait for it (bounded).
    let (p, c) = (25, 6);
    for _ in 0..2000 {
        if r.used_today("llm_tokens").await > p + c {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The cancellation is "ignored" by the breaker, never a failure; the limiter counted both
    // requests and what the dropped one sent.
    let m = r.metrics();
    assert!(m.contains("outcome=\"ignored\""), "{m}");
    assert!(!m.contains("outcome=\"failure\""), "{m}");
    assert_eq!(r.breaker("llm", 0)["state"], "closed");
    assert_eq!(r.used_today("turns").await, 2, "the dropped request counts as a turn");
    // The answered request reports 25 + 6 tokens; the dropped one is charged its prompt
    // estimate and the words it streamed on top.
    assert!(r.used_today("llm_tokens").await > p + c, "the dropped request's tokens were not counted");
    assert!(r.cost_today().await > 0);
}
