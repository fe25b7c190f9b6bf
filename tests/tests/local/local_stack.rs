//! The offline local stack (`scripts/setup --local`, `scripts/local-stack`) answers the three
//! OpenAI-compatible calls the agent makes, with real engines and real speech: Whisper hears an
//! espeak-ng question, the LLM streams the right answer, hibari's speech is heard back by
//! Whisper as the text it was given; and a crashed LLM refuses connections (the agent's
//! breaker sees failures at once, not a hang) until it is restarted.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::time::Duration;

use serde_json::json;

use voice_agent_tests::local_stack::client::{self, CallError};
use voice_agent_tests::local_stack::{Engine, LocalStack, speech_wav_16k, wav_bytes, words};

const QUESTION: &str = "What is the capital of France?";
const SYSTEM: &str = "You are a helpful voice assistant. Answer in one short sentence.";

fn new_client() -> reqwest::Client {
    // Generous: the engines share two cores with the test build; speed is the benchmark's job.
    // A fresh connection per request: these tests are about what the engines answer, and a
    // kept-alive connection the server closes just as the next request goes out fails it
    // (`IncompleteMessage`) — the agent's providers retry that, a bare client does not.
    reqwest::Client::builder().timeout(Duration::from_secs(120)).pool_max_idle_per_host(0).build().unwrap()
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
    // Every slot of the restarted LLM holds the agent's system prompt already (warm-up), so a
    // conversation's next turn re-reads only its own history, whichever slot takes it.
    let slots: serde_json::Value = http
        .get(format!("{}/slots", base.trim_end_matches("/v1")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slots = slots.as_array().unwrap();
    assert_eq!(slots.len(), 2, "{slots:?}");
    for slot in slots {
        // The warm-up's prompt: the system prompt (~35 tokens) and a one-word user turn.
        let cached = slot["n_prompt_tokens"].as_u64().unwrap_or(0);
        assert!(cached >= 30, "a cold slot ({cached} prompt tokens): {slot}");
    }
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

/// OpenAI function tools on the default local LLM: a request that needs a tool gets a proper
/// `tool_calls` answer (not text), streamed or not; the tool's result fed back is used in the
/// spoken answer; a question that needs no tool is answered in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_llm_calls_tools_the_openai_way() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let stack = LocalStack::start_only(&[Engine::Llm]);
    let http = new_client();
    let base = stack.base_url(Engine::Llm);
    let tools = json!([{"type": "function", "function": {
        "name": "book_table",
        "description": "Book a table at the restaurant",
        "parameters": {"type": "object", "properties": {
            "people": {"type": "integer", "description": "number of guests"},
            "time": {"type": "string", "description": "time of day, e.g. 19:00"},
            "name": {"type": "string", "description": "the guest's name"}},
            "required": ["people", "time", "name"]}}}]);
    let system = json!({"role": "system", "content": "You are the voice assistant of a restaurant. Answer in one short spoken sentence."});
    let ask = json!({"role": "user", "content": "Please book a table for four people at seven pm tonight, the name is Smith."});

    for stream in [false, true] {
        let reply = client::chat_with_tools(&http, &base, &[system.clone(), ask.clone()], &tools, stream)
            .await
            .unwrap();
        assert_eq!(reply.finish_reason, "tool_calls", "stream {stream}: {reply:?}");
        assert_eq!(reply.calls.len(), 1, "stream {stream}: {reply:?}");
        let (id, name, args) = &reply.calls[0];
        assert_eq!(name, "book_table");
        assert!(!id.is_empty(), "a call has an id: {reply:?}");
        let args: serde_json::Value = serde_json::from_str(args).unwrap_or_else(|e| panic!("{e}: {args}"));
        assert_eq!(args["people"], 4, "{args}");
        assert!(args["name"].as_str().unwrap_or_default().contains("Smith"), "{args}");
    }

    // The result goes back as a `tool` message; the answer uses it.
    let reply =
        client::chat_with_tools(&http, &base, &[system.clone(), ask.clone()], &tools, false).await.unwrap();
    let (id, name, args) = reply.calls[0].clone();
    let call = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": id, "type": "function", "function": {"name": name, "arguments": args}}]});
    let result =
        json!({"role": "tool", "tool_call_id": id, "content": "Booked: table 12, confirmation code K7."});
    let answer = client::chat_with_tools(&http, &base, &[system.clone(), ask, call, result], &tools, false)
        .await
        .unwrap();
    assert!(answer.calls.is_empty() && answer.finish_reason == "stop", "{answer:?}");
    assert!(answer.content.contains("12") || answer.content.contains("K7"), "{answer:?}");

    // No tool needed: words, not a call.
    let plain = json!({"role": "user", "content": QUESTION});
    let answer = client::chat_with_tools(&http, &base, &[system, plain], &tools, true).await.unwrap();
    assert!(answer.calls.is_empty(), "{answer:?}");
    assert!(answer.content.contains("Paris"), "{answer:?}");
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
