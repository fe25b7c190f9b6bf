//! The voice session in a real room with every provider local: a real livekit-server, the
//! agent's worker and voice session in-process (the same OpenAI-compatible provider code as
//! for cloud APIs), the real Silero VAD, and the local stack's Whisper, llama-server and hibari
//! as STT, LLM and TTS. The Python LiveKit client plays the human; what it hears is transcribed
//! back with the local Whisper.
//!
//! Turns end as the application's defaults have it (`TURN_DETECTION=smart`: Smart Turn at the
//! VAD's short pause, preemptive replies), or on silence alone ([`Turns::Vad`]). Settings differ
//! from the defaults only where a loaded 2-core machine needs room (timeouts), where a test
//! needs a fixed answer (temperature 0: greedy decoding), and where a test needs the LLM's
//! breaker to open on the first failure and probe again soon.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use voice_agent::agent::Agents;
use voice_agent::clock;
use voice_agent::limits::LimitsConfig;
use voice_agent::providers::{EndpointConfig, Providers, ProvidersConfig};
use voice_agent::session::SessionConfig;
use voice_agent::smart_turn::TurnDetectionConfig;
use voice_agent::vad::config::VadSettings;

use super::{Engine, LocalStack, Profile, client};
use crate::livekit::agent::{self, RunningWorker};
use crate::livekit::voice;
use crate::livekit::{LiveKitServer, wav};

/// How the rig's sessions decide that the user's turn has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Turns {
    /// The application's default (`TURN_DETECTION=smart`): the VAD reports a pause after
    /// its short silence (`SMART_VAD_MIN_SILENCE`) and Smart Turn decides whether it ends the turn.
    #[default]
    Smart,
    /// Silence alone (`TURN_DETECTION=vad`): the VAD's 0.45 s, then the endpointing delay.
    Vad,
}

/// A running room rig on the local stack.
pub struct LocalRig {
    /// The three engines.
    pub stack: LocalStack,
    /// The LiveKit server.
    pub server: Arc<LiveKitServer>,
    /// Our worker (voice mode).
    pub worker: RunningWorker,
    /// The providers the sessions call (their breakers' state is readable).
    pub providers: Arc<Providers>,
    /// The session settings in use.
    pub session: SessionConfig,
    /// Scratch directory (questions, recorded answers, handshake files).
    pub dir: PathBuf,
    http: reqwest::Client,
}

/// The agent's provider settings for `stack`: no keys, generous timeouts, greedy decoding,
/// and an LLM breaker that opens on one failure and probes again after 3 s.
pub fn providers_config(stack: &LocalStack) -> ProvidersConfig {
    let endpoint = |e: Engine, model: &str| EndpointConfig {
        base_url: stack.base_url(e),
        api_key: None,
        model: model.to_owned(),
    };
    let mut cfg = ProvidersConfig::default();
    cfg.stt.endpoints = vec![endpoint(Engine::Stt, "local-stt")];
    cfg.llm.endpoints = vec![endpoint(Engine::Llm, "local-llm")];
    cfg.tts.endpoints = vec![endpoint(Engine::Tts, "local-tts")];
    // The engines share two cores with the test build and each other: a slow answer is not
    // an outage here (latency is the benchmark's business).
    for cap in [&mut cfg.stt, &mut cfg.llm, &mut cfg.tts] {
        cap.timeout = Duration::from_secs(60);
        cap.slow = Duration::from_secs(30);
    }
    cfg.stt_options.language = Some("en".into());
    cfg.llm_options.temperature = 0.0;
    cfg.llm_options.max_tokens = 80;
    cfg.breakers.llm.consecutive_failures = 1;
    cfg.breakers.llm.open_base = Duration::from_secs(3);
    cfg
}

/// The default limits, with the local engines free (as `scripts/dev` prices them).
pub fn limits() -> LimitsConfig {
    let mut limits = LimitsConfig::default();
    limits
        .prices
        .merge_json(LOCAL_PRICES)
        .unwrap_or_else(|e| panic!("the local engines' prices {LOCAL_PRICES}: {e}"));
    limits
}

/// `FIRST_WORDS` for the local LLM, as `scripts/dev` sets it: its first sentence takes
/// ~0.4–0.7 s to decode on two cores, so its first words are spoken before it ends.
pub const LOCAL_FIRST_WORDS: usize = 4;

/// `FIRST_WORDS` from the environment if set (a benchmark comparing whole sentences sets 0),
/// else [`LOCAL_FIRST_WORDS`].
fn first_words() -> usize {
    match std::env::var("FIRST_WORDS") {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("FIRST_WORDS={v:?} is not a number of words")),
        Err(_) => LOCAL_FIRST_WORDS,
    }
}

/// `PRICES` for the local engines' model names, as `scripts/dev` sets it.
pub const LOCAL_PRICES: &str = r#"{"local-stt": {}, "local-llm": {}, "local-tts": {}}"#;

/// Starts the local stack, livekit-server and the worker; returns once the worker registered.
pub async fn start(name: &str) -> LocalRig {
    start_with(name, Profile::Default, SessionConfig::default().system_prompt).await
}

/// [`start_with`], with turns ending as `turns` says.
pub async fn start_turns(name: &str, profile: Profile, system_prompt: String, turns: Turns) -> LocalRig {
    start_rig(name, profile, system_prompt, None, turns).await
}

/// [`start`], with the worker's sessions running the agents of `agents` in place of the
/// settings' prompt (as the binary does), turns ending as `turns` says.
pub async fn start_agents(name: &str, agents: Agents, turns: Turns) -> LocalRig {
    start_rig(name, Profile::Default, SessionConfig::default().system_prompt, Some(agents), turns).await
}

/// [`start`] with the engines of `profile` and the agent's `system_prompt`.
pub async fn start_with(name: &str, profile: Profile, system_prompt: String) -> LocalRig {
    start_rig(name, profile, system_prompt, None, Turns::Smart).await
}

async fn start_rig(
    name: &str,
    profile: Profile,
    system_prompt: String,
    agents: Option<Agents>,
    turns: Turns,
) -> LocalRig {
    crate::livekit::init_logs();
    let stack = tokio::task::spawn_blocking(move || LocalStack::start_with(&Engine::ALL, profile))
        .await
        .expect("starting the local stack");
    let server = Arc::new(LiveKitServer::start());
    let cfg = providers_config(&stack);
    let smart = turns == Turns::Smart;
    let mut session = SessionConfig {
        system_prompt,
        greeting: None,
        turn_deadline: Duration::from_secs(120),
        // The client scores the first thing the agent says after a question; on a busy machine
        // the local LLM often takes longer than the filler's 2.5 s, and "One moment." would be
        // scored as the answer. The filler has its own tests (`session_waiting`).
        thinking_notice: None,
        first_words: first_words(),
        ..SessionConfig::default()
    };
    session.turn.smart = smart.then(|| TurnDetectionConfig::default().endpointing);
    let segmenter = VadSettings::default().resolve(smart).segmenter;
    let (mut handler, providers) = voice::handler(&cfg, session.clone(), &limits(), segmenter, agents);
    if smart {
        handler = handler.with_end_of_turn(Arc::new(voice::turn_detector()));
    }
    let worker = agent::spawn(agent::settings(&server.url(), 10), Arc::new(handler));
    let status = worker.status.clone();
    agent::wait_until("worker registered", Duration::from_secs(60), || status.is_registered()).await;
    let dir = std::env::temp_dir().join(format!("voice-agent-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("HTTP client");
    LocalRig { stack, server, worker, providers, session, dir, http }
}

impl LocalRig {
    /// A question spoken by espeak-ng, as a 48 kHz WAV file.
    pub fn question(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.wav"));
        wav::speech(text, &path);
        path
    }

    /// Runs `lk_client.py converse` in a new `room`, recording each answer (`answer_wavs` in
    /// the result) and waiting generously for every step.
    pub async fn converse(&self, room: &str, questions: &[PathBuf], extra: &[&str]) -> serde_json::Value {
        self.spawn_converse(room, questions, extra).await.expect("the client task")
    }

    /// [`Self::converse`] on a blocking thread, so the test can act while the client talks.
    pub fn spawn_converse(
        &self,
        room: &str,
        questions: &[PathBuf],
        extra: &[&str],
    ) -> tokio::task::JoinHandle<serde_json::Value> {
        let prefix = self.dir.join(format!("{room}-answer")).to_string_lossy().into_owned();
        let mut args: Vec<String> = vec!["--record-answers".into(), prefix];
        for (flag, value) in [("--agent-timeout", "120"), ("--answer-timeout", "120"), ("--quiet-secs", "2")]
        {
            args.extend([flag.to_owned(), value.to_owned()]);
        }
        args.extend(["--lead-in".to_owned(), "1".to_owned()]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let questions: Vec<&Path> = questions.iter().map(PathBuf::as_path).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        voice::converse_task(&self.server, room, "user", &questions, &args)
    }

    /// What the local Whisper hears in a recorded answer (a 48 kHz WAV the client wrote).
    pub async fn hear(&self, recorded: &Path) -> String {
        let samples = wav::read(recorded);
        assert!(!samples.is_empty(), "{} holds no audio", recorded.display());
        let bytes = super::wav_bytes(&samples, wav::RATE);
        client::transcribe(&self.http, &self.stack.base_url(Engine::Stt), bytes)
            .await
            .unwrap_or_else(|e| panic!("transcribing {}: {e}", recorded.display()))
            .text
    }

    /// Checks that all `n` questions of a converse `result` got a spoken answer, and returns
    /// what the local Whisper hears in each recorded answer.
    pub async fn heard_answers(&self, result: &serde_json::Value, n: usize) -> Vec<String> {
        let asked = result["questions"].as_array().cloned().unwrap_or_default();
        assert_eq!(asked.len(), n, "the client stopped early: {result}");
        for (i, q) in asked.iter().enumerate() {
            assert!(q["answer_start"].as_f64().is_some(), "question {i} got no spoken answer: {result}");
        }
        let recorded = answer_wavs(result);
        assert_eq!(recorded.len(), n, "{result}");
        let mut heard = Vec::new();
        for r in &recorded {
            heard.push(self.hear(r).await);
        }
        heard
    }

    /// The LLM breaker's state (`closed`, `open`, `half_open`) as `/readyz` reports it.
    pub fn llm_breaker(&self) -> String {
        let r = self.providers.readiness(clock::now());
        r["capabilities"]["llm"]["endpoints"][0]["state"].as_str().unwrap_or("none").to_owned()
    }

    /// Stops the worker and removes the scratch directory (the stack stops on drop).
    pub async fn stop(self) {
        self.worker.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The recorded answers' paths of a converse result.
pub fn answer_wavs(result: &serde_json::Value) -> Vec<PathBuf> {
    result["answer_wavs"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str().map(PathBuf::from)).collect())
        .unwrap_or_default()
}

/// The agent's transcripts (`lk.transcription` from the agent), in arrival order.
pub fn agent_said(result: &serde_json::Value) -> Vec<String> {
    let agent = result["agent_identity"].as_str().unwrap_or_default();
    voice::texts(result, "lk.transcription")
        .into_iter()
        .filter(|t| t["from"] == agent)
        .filter_map(|t| t["text"].as_str().map(str::to_owned))
        .collect()
}
