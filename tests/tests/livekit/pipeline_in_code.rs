//! End to end, a developer's agent whose providers, fallback, turn detection and limits are
//! chosen in code: the operator's environment names only LiveKit and the models (no provider
//! at all), the pipeline is chosen with the builder on top of it, and the whole application
//! (`app::run`, what `worker::run` runs) serves a real room. The primary LLM fails, so the
//! code-chosen fallback answers; the code-chosen turn limit refuses the second question with
//! the spoken notice — the guards apply to providers chosen in code.

use std::sync::Arc;
use std::time::Duration;

use health::Health;
use voice_agent::agent::{Agents, PromptAgent};
use voice_agent::app;
use voice_agent::config::Config;
use voice_agent::core::quota::{Scope, Unit, Window};
use voice_agent::lifecycle::Lifecycle;
use voice_agent::pipeline::{Limits, OpenAiCompatible, TurnDetection};
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi};
use voice_agent_tests::livekit::agent::wait_until;
use voice_agent_tests::livekit::voice;
use voice_agent_tests::livekit::{API_KEY, API_SECRET, LiveKitServer, tool};

const ROOM: &str = "pipeline-room";
const ANSWER: &str = "The backup model answers you.";

/// The operator's part: LiveKit, health, models — and no provider variable at all.
fn environment(server: &LiveKitServer) -> Config {
    let ort = tool("models/libonnxruntime.so.1.31.1");
    let vad = tool("models/silero_vad.onnx");
    let vars = [
        ("LIVEKIT_URL", server.url()),
        ("LIVEKIT_API_KEY", API_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", API_SECRET.to_owned()),
        ("HEALTH_ADDR", "127.0.0.1:0".to_owned()),
        ("LOAD_THRESHOLD", "1".to_owned()),
        ("ORT_DYLIB_PATH", ort.to_string_lossy().into_owned()),
        ("VAD_MODEL_PATH", vad.to_string_lossy().into_owned()),
    ];
    let config = Config::from_vars(vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    config.expect("the operator's environment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_providers_chosen_in_code_answers_and_is_guarded() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    voice_agent_tests::livekit::init_logs();
    let server = Arc::new(LiveKitServer::start());
    let (primary, backup) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let speech = voice::speech_pcm("Sure, here is my answer for you.", 24_000);
    primary.edit_replies(|r| {
        r.speech_pcm = speech;
        r.transcript = "what can you do".into();
    });
    primary.set_default(Endpoint::Chat, Behavior::Status(503));
    backup.edit_replies(|r| r.chat_chunks = vec![ANSWER.into()]);

    let config = environment(&server);
    assert!(config.pipeline.providers().llm.endpoints.is_empty(), "no provider from the environment");
    let pipeline = config
        .pipeline
        .to_builder()
        .llm(OpenAiCompatible::new(primary.base_url()).model("gpt-4o-mini").api_key("sk-code-chosen"))
        .llm_fallback(OpenAiCompatible::new(backup.base_url()).model("backup-llm"))
        .stt(OpenAiCompatible::new(primary.base_url()))
        .tts(OpenAiCompatible::new(primary.base_url()))
        .turn_detection(TurnDetection::Vad)
        .limits(Limits::default().limit(Scope::Participant, Unit::Turns, Window::Minute, 1))
        .build()
        .expect("valid choices");
    let config = config.with_pipeline(pipeline);
    let health = Health::new(config.health.liveness_stale);
    let lifecycle = Lifecycle::new();
    let agents = Agents::new(|job| {
        PromptAgent::new(format!("You are the agent chosen in code for room {}.", job.room()), None)
    });
    let app = tokio::spawn(app::run(config, agents, health.clone(), lifecycle.clone()));
    let h = health.clone();
    wait_until("worker registered", Duration::from_secs(30), move || {
        h.components().get("worker").is_some_and(|c| c.ready)
    })
    .await;

    let dir = std::env::temp_dir().join(format!("voice-agent-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let q = dir.join("q.wav");
    voice_agent_tests::livekit::wav::speech("What can you do for me?", &q);
    let result = voice::converse_task(&server, ROOM, "kim", &[&q, &q], &[]).await.expect("client");
    println!("client: {result}");

    let agent = result["agent_identity"].as_str().unwrap_or_default().to_owned();
    let said: Vec<String> = voice::texts(&result, "lk.transcription")
        .into_iter()
        .filter(|t| t["from"] == agent.as_str())
        .filter_map(|t| t["text"].as_str().map(String::from))
        .collect();
    // The first question: the primary failed, the code-chosen fallback answered, audibly.
    assert_eq!(said.first().map(String::as_str), Some(ANSWER), "{said:?}");
    assert!(result["questions"][0]["answer_start"].as_f64().is_some(), "no agent audio: {result}");
    let answered = backup.requests_to(Endpoint::Chat);
    assert_eq!(answered.len(), 1, "one turn reached the fallback");
    assert_eq!(answered[0].model().as_deref(), Some("backup-llm"));
    let system = answered[0].messages_of("system");
    assert!(system[0]["content"].as_str().unwrap_or("").contains("chosen in code for room"), "{system:?}");
    let tried = primary.requests_to(Endpoint::Chat);
    assert!(!tried.is_empty(), "the primary was tried first");
    assert_eq!(tried[0].header("authorization"), Some("Bearer sk-code-chosen"));
    // The second: over the code-chosen limit, the spoken notice and no LLM call.
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[1].starts_with("You're speaking faster than I can keep up"), "{said:?}");
    assert!(result["questions"][1]["answer_start"].as_f64().is_some(), "the notice was not heard: {result}");
    assert_eq!(backup.requests_to(Endpoint::Chat).len(), 1);

    lifecycle.draining.cancel();
    lifecycle.jobs.close();
    let _ = tokio::time::timeout(Duration::from_secs(20), lifecycle.jobs.wait()).await;
    lifecycle.abort.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(20), app).await;
    assert!(ended.is_ok(), "the application did not stop");
    let _ = std::fs::remove_dir_all(&dir);
}
