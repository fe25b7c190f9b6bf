//! Every provider response has a total deadline and a total size, against the fake provider
//! over real sockets: a response that trickles (an SSE comment, a byte of silence, a space
//! before each idle timeout) ends at the turn's deadline and counts against the provider; an
//! answer that never ends is cut at `LLM_MAX_TOKENS` (the model talked too long: not the
//! provider's fault), at `TTS_MAX_AUDIO_SECS` (a looping synthesiser: its fault) or at
//! `PROVIDER_MAX_BODY_BYTES` (a transcription body that does not end); a long
//! answer read at the pace it is spoken is not cut by the deadline.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::time::Duration;

use crate::providers_common::{call_within, config, rig};
use voice_agent::clock;
use voice_agent::providers::llm::CHARS_PER_TOKEN;
use voice_agent::providers::{ChatMessage, ProviderError, Role, SpeechStream};
use voice_agent_tests::fake_openai::{Behavior, ChatReply, Endpoint, FakeOpenAi, tone};

/// Longer than any test runs: a stall is never what ends these responses.
const IDLE: Duration = Duration::from_secs(120);

fn messages() -> Vec<ChatMessage> {
    vec![ChatMessage { role: Role::User, content: "Tell me everything.".into() }]
}

/// The fake's pieces come far more often than the idle timeout.
fn patient(fake: &FakeOpenAi) -> voice_agent::providers::ProvidersConfig {
    let mut cfg = config(fake, None);
    for c in [&mut cfg.llm, &mut cfg.tts, &mut cfg.stt] {
        c.timeout = IDLE;
    }
    cfg
}

async fn speech(mut s: SpeechStream) -> (usize, Option<ProviderError>) {
    let mut n = 0;
    while let Some(c) = s.next().await {
        match c {
            Ok(c) => n += c.len(),
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

#[tokio::test]
async fn a_trickling_chat_answer_ends_at_the_turn_deadline() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&patient(&fake));
    fake.push(Endpoint::Chat, Behavior::Trickle(Duration::from_millis(50)));
    let c = call_within(Duration::from_secs(1));
    let mut s = r.providers.chat(&c, &messages()).await.unwrap();
    let e = s.next().await.unwrap().unwrap_err();
    assert!(matches!(e, ProviderError::DeadlineExceeded), "{e:?}");
    assert!(clock::now() >= c.deadline, "ended before the deadline");
    assert!(s.next().await.is_none());
    assert!(fake.wait_idle().await, "the trickling connection stayed open");
    // A provider that keeps a turn waiting is failing it.
    let m = r.metrics();
    assert!(m.contains("kind=\"deadline\"} 1"), "{m}");
    assert!(m.contains("outcome=\"failure\"} 1"), "{m}");
}

#[tokio::test]
async fn trickling_speech_ends_at_the_turn_deadline_keeping_what_came() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&patient(&fake));
    fake.push(Endpoint::Speech, Behavior::Trickle(Duration::from_millis(5)));
    let c = call_within(Duration::from_secs(1));
    let (samples, e) = speech(r.providers.speak(&c, "Hello there.").await.unwrap()).await;
    assert!(matches!(e, Some(ProviderError::DeadlineExceeded)), "{e:?}");
    assert!(clock::now() >= c.deadline, "ended before the deadline");
    assert!(samples > 0, "the silence that came was handed out");
    assert!(fake.wait_idle().await, "the trickling connection stayed open");
    assert!(r.metrics().contains("kind=\"deadline\"} 1"));
}

#[tokio::test]
async fn a_trickling_transcription_ends_at_the_turn_deadline() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&patient(&fake));
    fake.push(Endpoint::Transcriptions, Behavior::Trickle(Duration::from_millis(50)));
    let c = call_within(Duration::from_secs(1));
    let e = r.providers.transcribe(&c, &[0; 3200]).await.unwrap_err();
    assert!(matches!(e, ProviderError::DeadlineExceeded), "{e:?}");
    assert!(clock::now() >= c.deadline, "ended before the deadline");
    assert!(fake.wait_idle().await, "the trickling connection stayed open");
    assert!(r.metrics().contains("kind=\"deadline\"} 1"));
}

#[tokio::test]
async fn an_answer_that_never_ends_is_cut_at_max_tokens_and_not_held_against_the_provider() {
    let fake = FakeOpenAi::start().await;
    let mut cfg = patient(&fake);
    cfg.llm_options.max_tokens = 20;
    let r = rig(&cfg);
    // Text deltas forever: cut by the characters (8 a token at most).
    fake.push(Endpoint::Chat, Behavior::Endless);
    let mut s = r.providers.chat(&call_within(IDLE), &messages()).await.unwrap();
    let mut text = String::new();
    let e = loop {
        match s.next().await.unwrap() {
            Ok(t) => text.push_str(&t),
            Err(e) => break e,
        }
    };
    assert!(e.to_string().contains("longer than 20 tokens"), "{e}");
    let chars = text.chars().count() as u64;
    assert!(chars > 0 && chars <= 20 * CHARS_PER_TOKEN, "{chars} characters: {text:?}");
    assert_eq!(fake.requests_to(Endpoint::Chat)[0].json.as_ref().unwrap()["max_tokens"], 20);
    // Short deltas: cut by their number (each is at least a token).
    fake.push_chat(ChatReply::text(&["a"; 50].join(" ")));
    let mut s = r.providers.chat(&call_within(IDLE), &messages()).await.unwrap();
    let mut deltas = 0;
    let e = loop {
        match s.next().await.unwrap() {
            Ok(_) => deltas += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(deltas, 20, "{e}");
    assert!(fake.wait_idle().await, "the endless answer's connection stayed open");
    let m = r.metrics();
    assert!(m.contains("kind=\"overrun_tokens\"} 2"), "{m}");
    assert!(m.contains("outcome=\"ignored\"} 2"), "{m}");
    assert!(!m.contains("outcome=\"failure\""), "{m}");
    assert_eq!(r.breaker("llm", 0)["state"], "closed");
    // An answer within max_tokens is whole.
    let mut s = r.providers.chat(&call_within(IDLE), &messages()).await.unwrap();
    while let Some(d) = s.next().await {
        d.unwrap();
    }
}

#[tokio::test]
async fn speech_that_never_ends_is_cut_at_max_audio_keeping_the_audio_up_to_it() {
    let fake = FakeOpenAi::start().await;
    let mut cfg = patient(&fake);
    cfg.tts_max_audio = Duration::from_secs(1);
    let r = rig(&cfg);
    fake.push(Endpoint::Speech, Behavior::Endless);
    let (samples, e) = speech(r.providers.speak(&call_within(IDLE), "Hi.").await.unwrap()).await;
    let e = e.expect("endless speech ended as if complete");
    assert!(e.to_string().contains("more than 1 s of audio"), "{e}");
    // One second at 48 kHz, less what is still inside the upsampler's filter.
    assert_eq!(samples, 48_000 - 2 * voice_agent::providers::pcm::TAPS_PER_SIDE);
    assert!(fake.wait_idle().await, "the endless speech's connection stayed open");
    let m = r.metrics();
    assert!(m.contains("kind=\"overrun_audio\"} 1"), "{m}");
    assert!(m.contains("outcome=\"failure\"} 1"), "{m}");
}

#[tokio::test]
async fn a_transcription_that_never_ends_is_cut_at_the_body_bound() {
    let fake = FakeOpenAi::start().await;
    let mut cfg = patient(&fake);
    cfg.max_body_bytes = 64 * 1024;
    let r = rig(&cfg);
    fake.push(Endpoint::Transcriptions, Behavior::Endless);
    let e = r.providers.transcribe(&call_within(IDLE), &[0; 3200]).await.unwrap_err();
    assert!(e.to_string().contains("larger than 65536 bytes"), "{e}");
    assert!(fake.wait_idle().await, "the endless transcription's connection stayed open");
    let m = r.metrics();
    assert!(m.contains("kind=\"overrun_bytes\"} 1"), "{m}");
    assert!(m.contains("outcome=\"failure\"} 1"), "{m}");
}

#[tokio::test]
async fn a_long_answer_read_as_it_is_spoken_outlives_the_deadline() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&patient(&fake));
    // 2 s of audio, all sent at once, "played" at half speed (4 s) against a 2 s deadline:
    // the time spent playing is not time the provider kept anyone waiting.
    fake.edit_replies(|rep| {
        rep.speech_pcm = tone(220.0, 24_000, Duration::from_secs(2));
        rep.speech_chunk_bytes = 4_800;
    });
    let c = call_within(Duration::from_secs(2));
    let mut s = r.providers.speak(&c, "A long sentence.").await.unwrap();
    let mut samples = 0;
    while let Some(chunk) = s.next().await {
        let n = chunk.unwrap().len();
        samples += n;
        tokio::time::sleep(Duration::from_secs_f64(2.0 * n as f64 / 48_000.0)).await;
    }
    assert!(clock::now() > c.deadline, "the playing took longer than the deadline");
    assert_eq!(samples, 2 * 48_000);
    assert!(!r.metrics().contains("outcome=\"failure\""));
}
