//! The voice session run in-process against a real livekit-server, the fake OpenAI-compatible
//! provider and the real Silero VAD, with the Python client asking questions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use prometheus_client::registry::Registry;
use voice_agent::agent::{Agents, PromptAgent};
use voice_agent::clock;
use voice_agent::core::breaker_config::BreakersConfig;
use voice_agent::core::endpoint::SmartEndpointing;
use voice_agent::core::segmenter::SegmenterConfig;
use voice_agent::core::turn::TurnConfig;
use voice_agent::limits::{Limiter, LimitsConfig};
use voice_agent::livekit::worker::WorkerSettings;
use voice_agent::providers::{EndpointConfig, Providers, ProvidersConfig};
use voice_agent::session::{SessionConfig, SessionHandler};
use voice_agent::smart_turn::{SmartTurn, TurnDetectionConfig, TurnDetector};
use voice_agent::vad::config::SMART_VAD_MIN_SILENCE;
use voice_agent::vad::{Vad, VadConfig, VadService};

use super::agent::{self, RunningWorker};
use super::{LiveKitServer, client, tool};
use crate::fake_openai::FakeOpenAi;

/// How to set the rig up.
pub struct VoiceOptions {
    /// Session settings (greeting off by default here, so answers are easy to pick out).
    pub session: SessionConfig,
    /// Limits.
    pub limits: LimitsConfig,
    /// A second fake serving as the LLM fallback.
    pub llm_fallback: bool,
    /// Breaker settings (the defaults unless a test needs a breaker to trip sooner).
    pub breakers: BreakersConfig,
    /// Jobs the worker takes at once.
    pub max_jobs: u32,
    /// How the VAD cuts utterances.
    pub segmenter: SegmenterConfig,
    /// The agent of each job (`None`: the session settings' prompt and greeting).
    pub agents: Option<Agents>,
    /// The worker's agent name (empty: dispatched to every new room; named: only by an
    /// explicit dispatch, which may carry metadata).
    pub agent_name: String,
    /// Sessions ask Smart Turn (the real model) at each pause, when `session.turn.smart` is
    /// set ([`VoiceOptions::smart`]).
    pub end_of_turn: bool,
    /// Attempt timeout of every provider (`<CAP>_TIMEOUT_SECS`; the default 10 s if unset).
    pub provider_timeout: Option<Duration>,
}

impl Default for VoiceOptions {
    fn default() -> Self {
        Self {
            session: SessionConfig { greeting: None, ..SessionConfig::default() },
            limits: LimitsConfig::default(),
            llm_fallback: false,
            breakers: BreakersConfig::default(),
            max_jobs: 10,
            segmenter: VadConfig::default().segmenter,
            agents: None,
            agent_name: String::new(),
            end_of_turn: false,
            provider_timeout: None,
        }
    }
}

impl VoiceOptions {
    /// The application's defaults with `TURN_DETECTION=smart`: Smart Turn's endpointing and
    /// the VAD's shorter silence wait that goes with it (the whole pause kept in the utterance).
    pub fn smart() -> Self {
        let mut opts = Self::default();
        opts.session.turn.smart = Some(SmartEndpointing::default());
        opts.segmenter.min_silence = SMART_VAD_MIN_SILENCE;
        opts.segmenter.end_padding = SMART_VAD_MIN_SILENCE;
        opts.end_of_turn = true;
        opts
    }
}

/// The Smart Turn service on the real model (loaded once per process).
pub fn turn_detector() -> TurnDetector {
    let model = SmartTurn::load(
        &tool("models/libonnxruntime.so.1.31.1"),
        &tool("models/smart-turn-v3.2-cpu.onnx"),
        1,
    )
    .expect("loading Smart Turn (run scripts/setup)");
    let c = TurnDetectionConfig::default();
    let wait = c.endpointing.model_wait.max(TurnConfig::default().endpointing_delay);
    TurnDetector::start(model, c.max_batch, wait).expect("Smart Turn service")
}

/// A running rig.
pub struct VoiceRig {
    /// The LiveKit server.
    pub server: Arc<LiveKitServer>,
    /// The primary fake provider (STT, LLM, TTS).
    pub fake: FakeOpenAi,
    /// The fallback LLM, if asked for.
    pub fallback: Option<FakeOpenAi>,
    /// Our worker.
    pub worker: RunningWorker,
    /// The providers the sessions call (breaker states, `/readyz` JSON).
    pub providers: Arc<Providers>,
    /// Scratch directory (speech files).
    pub dir: PathBuf,
}

/// Speech rendered by espeak-ng at `rate` Hz, mono s16.
pub fn speech_pcm(text: &str, rate: u32) -> Vec<i16> {
    // One directory per call: several tests of one binary may render speech at once.
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("voice-agent-tts-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let (wav, raw) = (dir.join("espeak.wav"), dir.join(format!("speech-{rate}.raw")));
    let ok = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "170", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is missing: run scripts/setup")
        .success();
    assert!(ok, "espeak-ng failed");
    let rate = rate.to_string();
    let ok = Command::new("sox")
        .arg(&wav)
        .args(["-t", "raw", "-r", &rate, "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(&raw)
        .status()
        .expect("sox is missing: run scripts/setup")
        .success();
    assert!(ok, "sox failed");
    let bytes = std::fs::read(&raw).expect("sox output");
    let _ = std::fs::remove_dir_all(&dir);
    bytes.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

fn endpoint(base: &str, model: &str) -> EndpointConfig {
    EndpointConfig { base_url: base.to_owned(), api_key: Some("test-key".into()), model: model.to_owned() }
}

/// Providers pointing at the fakes.
pub fn providers_config(fake: &FakeOpenAi, fallback: Option<&FakeOpenAi>) -> ProvidersConfig {
    let mut cfg = ProvidersConfig::default();
    cfg.llm.endpoints = vec![endpoint(&fake.base_url(), "gpt-4o-mini")];
    if let Some(f) = fallback {
        cfg.llm.endpoints.push(endpoint(&f.base_url(), "fallback-llm"));
    }
    cfg.tts.endpoints = vec![endpoint(&fake.base_url(), "tts-1")];
    cfg.stt.endpoints = vec![endpoint(&fake.base_url(), "whisper-1")];
    cfg
}

/// The voice-mode handler wired like the application does it, and the providers it calls;
/// `agents` by default: the settings' prompt and greeting, as the binary does it.
pub fn handler(
    cfg: &ProvidersConfig,
    session: SessionConfig,
    limits: &LimitsConfig,
    segmenter: SegmenterConfig,
    agents: Option<Agents>,
) -> (SessionHandler, Arc<Providers>) {
    let agents = agents.unwrap_or_else(|| {
        let (prompt, greeting) = (session.system_prompt.clone(), session.greeting.clone());
        Agents::new(move |_| PromptAgent::new(prompt.clone(), greeting.clone()))
    });
    let mut registry = Registry::default();
    let resilience = voice_agent::limits::register_metrics(&mut registry);
    let provider_metrics = voice_agent::providers::register_metrics(&mut registry);
    let limiter =
        Arc::new(Limiter::new(limits, resilience.clone(), "test-worker", clock::now()).expect("limiter"));
    let providers =
        Arc::new(Providers::new(cfg, limiter.clone(), resilience, provider_metrics).expect("providers"));
    let vad = Vad::load(&tool("models/libonnxruntime.so.1.31.1"), &tool("models/silero_vad.onnx"))
        .expect("loading the VAD (run scripts/setup)");
    let vad_cfg = VadConfig::default();
    let service = VadService::start(vad, vad_cfg.max_batch).expect("VAD service");
    (SessionHandler::new(agents, session, providers.clone(), cfg, limiter, service, segmenter), providers)
}

/// Starts the server, the fakes (TTS answering with real speech) and the worker.
pub async fn start(name: &str, opts: VoiceOptions) -> VoiceRig {
    super::init_logs();
    let server = Arc::new(LiveKitServer::start());
    let fake = FakeOpenAi::start().await;
    let fallback = if opts.llm_fallback { Some(FakeOpenAi::start().await) } else { None };
    let speech = speech_pcm("Sure, here is my answer for you.", 24_000);
    fake.edit_replies(|r| r.speech_pcm = speech);
    let mut cfg = providers_config(&fake, fallback.as_ref());
    cfg.breakers = opts.breakers;
    if let Some(t) = opts.provider_timeout {
        for cap in [&mut cfg.llm, &mut cfg.tts, &mut cfg.stt] {
            cap.timeout = t;
        }
    }
    let (mut handler, providers) = handler(&cfg, opts.session, &opts.limits, opts.segmenter, opts.agents);
    if opts.end_of_turn {
        handler = handler.with_end_of_turn(Arc::new(turn_detector()));
    }
    let handler = Arc::new(handler);
    let settings = agent::settings(&server.url(), opts.max_jobs);
    let worker =
        agent::spawn_registered(WorkerSettings { agent_name: opts.agent_name, ..settings }, handler).await;
    let dir = std::env::temp_dir().join(format!("voice-agent-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    VoiceRig { server, fake, fallback, worker, providers, dir }
}

impl VoiceRig {
    /// A question as a 48 kHz WAV file.
    pub fn question(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.wav"));
        super::wav::speech(text, &path);
        path
    }

    /// Creates `room` and runs `lk_client.py converse` in it (blocking; run it off the runtime).
    pub fn converse_blocking(
        server: &LiveKitServer,
        room: &str,
        identity: &str,
        questions: &[&Path],
        extra: &[&str],
    ) -> serde_json::Value {
        client::create_room(server, room);
        let mut args: Vec<&str> = vec!["--identity", identity];
        for q in questions {
            args.push("--say");
            args.push(q.to_str().expect("utf-8 path"));
        }
        args.extend_from_slice(extra);
        client::run(server, "converse", room, &args)
    }

    /// Failures counted by the breakers of every provider endpoint, and the endpoints that are
    /// not closed (`capability/name: state`).
    pub fn breaker_failures(&self) -> (u64, Vec<String>) {
        let ready = self.providers.readiness(clock::now());
        let (mut failures, mut open) = (0, Vec::new());
        for cap in ["stt", "llm", "tts"] {
            for e in ready["capabilities"][cap]["endpoints"].as_array().into_iter().flatten() {
                failures += e["window"]["failures"].as_u64().unwrap_or(0);
                if e["state"] != "closed" {
                    open.push(format!("{cap}/{}: {}", e["name"], e["state"]));
                }
            }
        }
        (failures, open)
    }

    /// Stops the worker and removes the scratch directory.
    pub async fn stop(self) {
        self.worker.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The text streams of `topic` in a converse result.
pub fn texts<'a>(result: &'a serde_json::Value, topic: &str) -> Vec<&'a serde_json::Value> {
    result["texts"].as_array().map(|a| a.iter().filter(|t| t["topic"] == topic).collect()).unwrap_or_default()
}

/// [`VoiceRig::converse_blocking`] on a blocking thread: the client talks while the caller
/// goes on; awaiting the handle gives the client's result.
pub fn converse_task(
    server: &Arc<LiveKitServer>,
    room: &str,
    identity: &str,
    questions: &[&Path],
    extra: &[&str],
) -> tokio::task::JoinHandle<serde_json::Value> {
    let server = Arc::clone(server);
    let (room, identity) = (room.to_owned(), identity.to_owned());
    let questions: Vec<PathBuf> = questions.iter().map(|q| q.to_path_buf()).collect();
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let questions: Vec<&Path> = questions.iter().map(PathBuf::as_path).collect();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        VoiceRig::converse_blocking(&server, &room, &identity, &questions, &extra)
    })
}
