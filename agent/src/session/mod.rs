//! The voice session: one job in one room — listen, take turns, answer with speech.
//!
//! [`SessionHandler`] is the [`JobHandler`] of voice mode. Each job gets its own agent
//! ([`Agents`]: made from the job's dispatch data), which answers every user turn — its hook,
//! then the LLM with its tools ([`crate::agent`]). Per job it runs one loop
//! (`driver`) that owns the sans-IO [`TurnMachine`](crate::core::turn::TurnMachine) and
//! the [`History`](crate::core::history::History), and executes the machine's commands with
//! tasks: per participant a VAD listener ([`listen`]), per utterance a transcription, per
//! agent turn a reply ([`reply`]: agent → LLM and tools → sentences → TTS → audio sink; the
//! LLM through [`llm::SessionLlm`]). Everything a task
//! learns comes back to the loop as an [`Event`]; all tasks of a job live in one `JoinSet`
//! and end with it.
//!
//! - [`config`]: [`SessionConfig`] (`SYSTEM_PROMPT`, `GREETING`, `ENDPOINTING_DELAY_SECS`, …).
//! - [`outcome`]: turn kinds and outcomes ([`TurnKind`], [`Outcome`]).
//! - [`accounting`]: metrics, cost and the log line of a finished turn.
//! - [`transcript`]: LiveKit transcript formatting (topics, segment ids, attributes).
//! - [`captions`]: the agent's transcript of a reply, written word by word as its audio plays.
//! - [`held`]: a preemptive reply held back until its turn is confirmed.
//! - [`typed`]: typed messages (`lk.chat`) as user turns; [`preconnect`]: a front end's
//!   recording of the user's first words in front of their live microphone.
//! - [`metrics`]: per-turn histograms and counters (`voice_*`).
//! - [`echo`]: the announced echo mode used when no provider is configured.
//!
//! Seams, for tests and for code built on the session:
//! - [`providers`]: [`SessionProviders`], what the session asks of STT/LLM/TTS; the guarded
//!   [`Providers`] implement it, and so does [`scripted::ScriptedProviders`] (in-process).
//! - [`hearing`]: [`Hearing`], a track in and speech events out; [`hearing::VadHearing`] is the
//!   VAD, [`hearing::ScriptedEars`] lets a test speak for a participant.
//! - [`end_of_turn`]: [`EndOfTurn`], the model asked at each pause whether the speaker has
//!   finished (Smart Turn; [`end_of_turn::ScriptedEndOfTurn`] in tests). Without one, or
//!   with `TURN_DETECTION=vad`, a fixed silence ends a turn.
//! - The room: [`Room`] is a handle over channels;
//!   [`crate::livekit::room::memory::pair`] gives an in-memory room and its far end.
//! - [`Session`]: a session built from these parts, run on any room.
//!
//! All time goes through [`crate::clock::now`] (tokio's clock), so a session runs on paused
//! time in tests.
//!
//! Transcripts of both sides go out as LiveKit text streams on `lk.transcription`; text
//! replies (TTS down, limits) also on `lk.chat`.

pub mod accounting;
pub mod captions;
pub mod config;
mod driver;
pub mod echo;
pub mod end_of_turn;
pub mod hearing;
pub mod held;
pub mod listen;
pub mod llm;
pub mod metrics;
pub mod outcome;
pub mod preconnect;
pub mod providers;
pub mod relay;
pub mod reply;
pub mod scripted;
pub mod transcript;
pub mod typed;

#[cfg(test)]
mod agent_tests;
#[cfg(test)]
mod driver_tests;
#[cfg(test)]
mod frontend_tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::SessionConfig;
pub use end_of_turn::EndOfTurn;
pub use hearing::Hearing;
pub use metrics::register_metrics;
pub use outcome::{Outcome, TurnKind};
pub use providers::SessionProviders;

use crate::agent::{Agents, PromptAgent};
use crate::core::segmenter::SegmenterConfig;
use crate::core::turn::{PartId, Transcript, TurnId};
use crate::limits::Limiter;
use crate::livekit::job::{JobContext, JobError, JobFuture, JobHandler, JobInfo};
use crate::livekit::room::Room;
use crate::providers::{Providers, ProvidersConfig};
use crate::vad::VadService;
use tokio_util::sync::CancellationToken;

/// What tasks tell the session loop.
#[derive(Debug)]
pub enum Event {
    /// VAD: speech started at `start`.
    SpeechStarted {
        /// Speaker.
        who: Arc<str>,
        /// The real start.
        start: Instant,
    },
    /// VAD: an utterance ended at `end`.
    SpeechEnded {
        /// Speaker.
        who: Arc<str>,
        /// The real end of speech.
        end: Instant,
        /// 16 kHz PCM.
        pcm: Vec<i16>,
    },
    /// The end-of-turn model answered about the pause after `part` (`None`: it failed).
    EndOfTurn {
        /// The utterance before the pause.
        part: PartId,
        /// The probability that the speaker has finished.
        probability: Option<f32>,
    },
    /// A transcription finished.
    Transcribed {
        /// The utterance.
        part: PartId,
        /// Speaker.
        who: Arc<str>,
        /// Text or failure.
        result: Transcript,
        /// STT latency when it worked.
        stt: Option<Duration>,
    },
    /// The first audio packet of `turn` went out.
    AudioStarted {
        /// The turn.
        turn: TurnId,
    },
    /// A turn ended.
    ReplyDone(Box<reply::Reply>),
    /// Pre-connect audio for `track_sid` was decoded (48 kHz mono).
    PreConnectDecoded {
        /// The microphone track it goes in front of.
        track_sid: String,
        /// The recording.
        pcm: Vec<i16>,
    },
}

/// What every session of a worker shares.
#[derive(Clone)]
pub(crate) struct Shared {
    cfg: SessionConfig,
    /// The agent of each job.
    agents: Agents,
    providers: Arc<dyn SessionProviders>,
    limiter: Arc<Limiter>,
    hearing: Arc<dyn Hearing>,
    cache: Arc<reply::PcmCache>,
    /// Models of the primary TTS and STT endpoints (to price usage).
    models: accounting::Models,
    /// Asked at each pause when `cfg.turn.smart` is set.
    end_of_turn: Option<Arc<dyn EndOfTurn>>,
}

/// A voice session made of its parts: an agent, providers, ears, limits and settings. Cheap
/// to clone; every session run from it shares the rendered-notice cache. Its agent is a
/// [`PromptAgent`] of the settings' `system_prompt` and `greeting` unless
/// [`Session::with_agents`] gives another.
///
/// ```
/// # use std::sync::Arc;
/// use voice_agent::session::{Session, SessionConfig};
/// use voice_agent::session::hearing::ScriptedEars;
/// use voice_agent::session::scripted::ScriptedProviders;
/// # fn limiter() -> Arc<voice_agent::limits::Limiter> {
/// #     let mut registry = prometheus_client::registry::Registry::default();
/// #     let metrics = voice_agent::limits::register_metrics(&mut registry);
/// #     let cfg = voice_agent::limits::LimitsConfig::default();
/// #     Arc::new(voice_agent::limits::Limiter::new(&cfg, metrics, "doc", voice_agent::clock::now()).unwrap())
/// # }
/// let session = Session::new(
///     SessionConfig::default(),
///     Arc::new(ScriptedProviders::new()),
///     Arc::new(ScriptedEars::new()),
///     limiter(),
/// );
/// // `session.run(room, cancel)` serves a room until it closes or `cancel` fires.
/// # drop(session);
/// ```
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// A session that asks `providers`, hears through `hearing`, and counts against `limiter`.
    pub fn new(
        cfg: SessionConfig,
        providers: Arc<dyn SessionProviders>,
        hearing: Arc<dyn Hearing>,
        limiter: Arc<Limiter>,
    ) -> Self {
        Self::priced(cfg, providers, hearing, limiter, accounting::Models::default())
    }

    /// [`Session::new`], pricing TTS and STT usage as `models`.
    pub fn priced(
        cfg: SessionConfig,
        providers: Arc<dyn SessionProviders>,
        hearing: Arc<dyn Hearing>,
        limiter: Arc<Limiter>,
        models: accounting::Models,
    ) -> Self {
        let agents = prompt_agents(&cfg);
        let cache = Arc::default();
        let shared = Shared { cfg, agents, providers, limiter, hearing, cache, models, end_of_turn: None };
        Self { shared: Arc::new(shared) }
    }

    /// The same session asking `model` at each pause whether the speaker has finished, when
    /// its turn settings have [`TurnConfig::smart`](crate::core::turn::TurnConfig::smart)
    /// (without a model, a fixed silence ends a turn).
    pub fn with_end_of_turn(self, model: Arc<dyn EndOfTurn>) -> Self {
        let mut shared = (*self.shared).clone();
        shared.end_of_turn = Some(model);
        Self { shared: Arc::new(shared) }
    }

    /// The same session with its agents made by `agents`.
    pub fn with_agents(mut self, agents: Agents) -> Self {
        Arc::make_mut(&mut self.shared).agents = agents;
        self
    }

    /// Serves `room` until it closes or `cancel` fires; then ends every task, gives the
    /// session slots back and leaves the room. The agent is made for a job in this room.
    pub async fn run(&self, room: Room, cancel: CancellationToken) -> Result<(), JobError> {
        let job = JobInfo {
            room: room.name().to_owned(),
            identity: room.identity().to_owned(),
            ..JobInfo::default()
        };
        self.run_job(room, cancel, job).await
    }

    /// [`Session::run`] for a dispatched job: its agent is made from `job`.
    pub async fn run_job(&self, room: Room, cancel: CancellationToken, job: JobInfo) -> Result<(), JobError> {
        driver::run(self.shared.clone(), room, cancel, job).await
    }
}

/// The settings' prompt and greeting as the agent of every job.
fn prompt_agents(cfg: &SessionConfig) -> Agents {
    let (prompt, greeting) = (cfg.system_prompt.clone(), cfg.greeting.clone());
    Agents::new(move |_| PromptAgent::new(prompt.clone(), greeting.clone()))
}

/// The voice-mode job handler: a [`Session`] on the real providers and the VAD, run in each
/// job's room with the job's agent.
#[derive(Clone, Debug)]
pub struct SessionHandler {
    session: Session,
}

impl SessionHandler {
    /// A handler whose sessions run the agents of `agents` on these providers, limits and VAD.
    pub fn new(
        agents: Agents,
        cfg: SessionConfig,
        providers: Arc<Providers>,
        providers_cfg: &ProvidersConfig,
        limiter: Arc<Limiter>,
        vad: VadService,
        segmenter: SegmenterConfig,
    ) -> Self {
        let model = |c: &crate::providers::CapabilityConfig| {
            c.endpoints.first().map(|e| e.model.clone()).unwrap_or_default()
        };
        let models = accounting::Models { tts: model(&providers_cfg.tts), stt: model(&providers_cfg.stt) };
        let hearing = Arc::new(hearing::VadHearing { vad, segmenter });
        Self { session: Session::priced(cfg, providers, hearing, limiter, models).with_agents(agents) }
    }

    /// The same handler with an end-of-turn model ([`Session::with_end_of_turn`]).
    pub fn with_end_of_turn(self, model: Arc<dyn EndOfTurn>) -> Self {
        Self { session: self.session.with_end_of_turn(model) }
    }
}

impl JobHandler for SessionHandler {
    fn run(&self, ctx: JobContext) -> JobFuture {
        let shared = self.session.shared.clone();
        Box::pin(async move { driver::run(shared, ctx.room, ctx.cancel, ctx.job).await })
    }
}
