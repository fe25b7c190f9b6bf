//! Echo mode that says so: when no STT, LLM or TTS provider is configured, voice mode runs
//! the echo job instead and tells the room why, in text on `lk.chat` (there is no voice to
//! say it with), and the log says what to set.

use std::time::Duration;

use crate::livekit::echo::EchoHandler;
use crate::livekit::job::{JobContext, JobFuture, JobHandler};

/// What the room is told.
pub const ANNOUNCEMENT: &str = "Echo mode: no speech or language provider is configured, so I repeat \
what you say. Set LLM_BASE_URL, STT_BASE_URL and TTS_BASE_URL (and their API keys) to talk with me.";

/// Echo, announced to each participant.
#[derive(Debug, Clone)]
pub struct AnnouncedEcho {
    inner: EchoHandler,
}

impl AnnouncedEcho {
    /// Echo after `delay`.
    pub fn new(delay: Duration) -> Self {
        Self { inner: EchoHandler::announcing(delay, ANNOUNCEMENT) }
    }
}

impl JobHandler for AnnouncedEcho {
    fn run(&self, ctx: JobContext) -> JobFuture {
        tracing::warn!(room = %ctx.room.name(), "{ANNOUNCEMENT}");
        self.inner.run(ctx)
    }
}
