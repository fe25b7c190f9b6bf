//! The offline local stack (`scripts/setup --local`, `scripts/local-stack`) answers the three
//! OpenAI-compatible calls the agent makes, with real engines and real speech: Whisper hears an
//! espeak-ng question, the LLM streams the right answer, hibari's speech is heard back by
//! Whisper as the text it was given; and a crashed LLM refuses connections (the agent's
//! breaker sees failures at once, not a hang) until it is restarted.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::time::Duration;

use voice_agent_tests::local_stack::client::{self, CallError};
use voice_agent_tests::local_stack::{Engine, LocalStack, speech_wav_16k, wav_bytes, words};

const QUESTION: &str = "What is the capital of France?";
const SYSTEM: &str = "You are a helpful voice assistant. Answer in one short sentence.";

fn new_client() -> reqwest::Client {
    // Generous: the engines share two cores with the test build; speed is the benchmark's job.
    reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_stack_hears_answers_and_speaks() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let stack = LocalStack::start();
    let http = new_client();

    // STT: the spoken question, as the agent uploads it.
    let heard =
        client::transcribe(&http, &stack.base_url(Engine::Stt), speech_wav_16k(QUESTION)).await.unwrap();
    let w = words(&heard.text);
    assert!(
        w.contains(&"capital".into()) && w.contains(&"france".into()),
        "Whisper heard {:?} for {QUESTION:?}",
        heard.text
    );

    // LLM: streamed, with a usage chunk and [DONE], answering the transcript.
    let chat =
        client::chat(&http, &stack.base_url(Engine::Llm), &[("system", SYSTEM), ("user", &heard.text)], 60)
            .await
            .unwrap();
    assert!(chat.text.contains("Paris"), "the LLM answered {:?}", chat.text);
    assert!(chat.deltas > 1, "the answer came in one piece, not streamed: {chat:?}");
    assert!(chat.done, "the stream did not end with [DONE]: {chat:?}");
    let (prompt, completion) = chat.usage.expect("no usage chunk despite stream_options.include_usage");
    assert!(prompt > 0 && completion > 0, "usage {prompt}/{completion}");

    // TTS: raw 24 kHz PCM that Whisper hears back as the sentence.
    let sentence = "The capital of France is Paris.";
    let spoken = client::speech(&http, &stack.base_url(Engine::Tts), sentence).await.unwrap();
    assert!(
        spoken.content_type.starts_with("audio/") || spoken.content_type == "application/octet-stream",
        "content type {:?} is not audio",
        spoken.content_type
    );
    let secs = spoken.pcm.len() as f64 / 24_000.0;
    assert!((1.0..6.0).contains(&secs), "{secs:.2} s of audio for {sentence:?} (is it 24 kHz?)");
    let back = client::transcribe(&http, &stack.base_url(Engine::Stt), wav_bytes(&spoken.pcm, 24_000))
        .await
        .unwrap();
    assert_eq!(words(&back.text), words(sentence), "Whisper heard the TTS say {:?}", back.text);

    // Bad input is an OpenAI-style 400, not a crash: the engine still answers afterwards.
    let err = client::speech(&http, &stack.base_url(Engine::Tts), "   ").await.unwrap_err();
    assert!(matches!(err, CallError::Status(400, ref body) if body.contains("input")), "{err}");
    let garbage =
        client::transcribe(&http, &stack.base_url(Engine::Stt), b"not audio".to_vec()).await.unwrap_err();
    assert!(matches!(garbage, CallError::Status(400, _)), "{garbage}");
    let again = client::speech(&http, &stack.base_url(Engine::Tts), "Still here.").await.unwrap();
    assert!(!again.pcm.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_llm_refuses_at_once_and_recovers_after_restart() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let mut stack = LocalStack::start_only(&[Engine::Llm]);
    let http = new_client();
    let base = stack.base_url(Engine::Llm);
    let ask = || client::chat(&http, &base, &[("system", SYSTEM), ("user", QUESTION)], 40);

    assert!(ask().await.unwrap().text.contains("Paris"));
    let pid = stack.pid(Engine::Llm).unwrap();

    stack.kill(Engine::Llm);
    assert_eq!(stack.pid(Engine::Llm), None, "the LLM (pid {pid}) survived SIGKILL");
    // The pooled keep-alive connection is dead: the request fails on it at once (a transport
    // error, not a status and not a timeout) ...
    match ask().await.unwrap_err() {
        CallError::Http(e) => assert!(!e.is_timeout(), "a dead LLM made the request time out: {e}"),
        other => panic!("a dead LLM must fail at the transport, got: {other}"),
    }
    // ... and a new connection is refused.
    let fresh = new_client();
    let err = client::chat(&fresh, &base, &[("user", QUESTION)], 10).await.unwrap_err();
    assert!(err.is_connect(), "a dead LLM must refuse connections, got: {err}");

    stack.restart(Engine::Llm);
    let pid2 = stack.pid(Engine::Llm).unwrap();
    assert_ne!(pid, pid2, "restart did not start a new process");
    let chat = ask().await.unwrap();
    assert!(chat.text.contains("Paris"), "after restart the LLM answered {:?}", chat.text);

    // The agent's env names exactly what runs (only the LLM here): no dead URL for the others.
    let env = stack.agent_env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("LLM_BASE_URL"), Some(base.clone()));
    assert_eq!(get("LLM_MODEL").as_deref(), Some("local-llm"));
    assert_eq!((get("STT_BASE_URL"), get("TTS_BASE_URL")), (None, None));

    // Dropping the stack leaves nothing behind.
    drop(stack);
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{pid2}/exe")).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the LLM (pid {pid2}) outlived the stack");
}

#[test]
fn the_launcher_warms_the_llm_up_with_the_agents_default_system_prompt() {
    // Otherwise the first turn of every session recomputes the system prompt.
    let script =
        std::fs::read_to_string(voice_agent_tests::livekit::workspace_root().join("scripts/local-stack"))
            .unwrap();
    let prompt = voice_agent::session::config::DEFAULT_SYSTEM_PROMPT;
    assert!(
        script.contains(&format!("DEFAULT_PROMPT=\"{prompt}\"")),
        "scripts/local-stack's DEFAULT_PROMPT is not the agent's default system prompt {prompt:?}"
    );
}

#[test]
fn scripts_dev_makes_the_local_engines_free_with_a_valid_price_table() {
    // A priced local engine would count against cost caps; a bad table would stop the agent.
    let dev =
        std::fs::read_to_string(voice_agent_tests::livekit::workspace_root().join("scripts/dev")).unwrap();
    let prices = voice_agent_tests::local_stack::room::LOCAL_PRICES;
    assert!(
        dev.contains(&format!("export PRICES='{prices}'")),
        "scripts/dev does not set PRICES to {prices}"
    );
    let limits = voice_agent_tests::local_stack::room::limits();
    let usage = voice_agent::core::quota::Usage {
        input_tokens: 1000,
        output_tokens: 1000,
        tts_chars: 1000,
        stt_millis: 60_000,
        ..Default::default()
    };
    for model in ["local-stt", "local-llm", "local-tts"] {
        assert_eq!(limits.prices.cost(model, &usage), 0, "{model} is not free");
    }
    assert!(limits.prices.cost("some-cloud-model", &usage) > 0, "unknown models must stay priced");
}
