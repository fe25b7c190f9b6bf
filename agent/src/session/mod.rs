//! The voice session: one job in one room — listen, take turns, answer with speech.
//!
//! [`SessionHandler`] is the [`JobHandler`] of voice mode. Per job it runs one loop
//! ([`driver`]) that owns the sans-IO [`TurnMachine`](crate::core::turn::TurnMachine) and
//! the [`History`](crate::core::history::History), and executes the machine's commands with
//! tasks: per participant a VAD listener ([`listen`]), per utterance a transcription, per
//! agent turn a reply ([`reply`]: LLM → sentences → TTS → audio sink). Everything a task
//! learns comes back to the loop as an [`Event`]; all tasks of a job live in one `JoinSet`
//! and end with it.
//!
//! - [`config`]: [`SessionConfig`] (`SYSTEM_PROMPT`, `GREETING`, `ENDPOINTING_DELAY_SECS`, …).
//! - [`metrics`]: per-turn histograms and counters (`voice_*`).
//! - [`echo`]: the announced echo mode used when no provider is configured.
//!
//! Transcripts of both sides go out as LiveKit text streams on `lk.transcription`; text
//! replies (TTS down, limits) also on `lk.chat`.

pub mod config;
mod driver;
pub mod echo;
pub mod listen;
pub mod metrics;
pub mod reply;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::SessionConfig;
pub use metrics::register_metrics;

use crate::core::segmenter::SegmenterConfig;
use crate::core::turn::{PartId, Transcript, TurnId};
use crate::limits::Limiter;
use crate::livekit::job::{JobContext, JobFuture, JobHandler};
use crate::providers::{Providers, ProvidersConfig};
use crate::vad::VadService;

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
}

/// What every session of a worker shares.
pub(crate) struct Shared {
    cfg: SessionConfig,
    providers: Arc<Providers>,
    limiter: Arc<Limiter>,
    vad: VadService,
    segmenter: SegmenterConfig,
    cache: Arc<reply::PcmCache>,
    /// Models of the primary TTS and STT endpoints (to price usage).
    tts_model: String,
    stt_model: String,
}

/// The voice-mode job handler.
#[derive(Clone)]
pub struct SessionHandler {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SessionHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandler").finish_non_exhaustive()
    }
}

impl SessionHandler {
    /// A handler whose sessions use these providers, limits and VAD.
    pub fn new(
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
        Self {
            shared: Arc::new(Shared {
                cfg,
                providers,
                limiter,
                vad,
                segmenter,
                cache: Arc::default(),
                tts_model: model(&providers_cfg.tts),
                stt_model: model(&providers_cfg.stt),
            }),
        }
    }
}

impl JobHandler for SessionHandler {
    fn run(&self, ctx: JobContext) -> JobFuture {
        Box::pin(driver::run(self.shared.clone(), ctx))
    }
}
