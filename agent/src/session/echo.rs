//! Echo mode that says so: when no STT, LLM or TTS provider is configured, voice mode runs
//! the echo job instead and tells the room why, in text on `lk.chat` (there is no voice to
//! say it with), and the log says what to set.

use std::time::Duration;

use crate::livekit::echo::EchoHandler;
use crate::livekit::job::{JobContext, JobFuture, JobHandler};
use crate::livekit::room::TextStreamOptions;
use crate::livekit::room::text_stream::TOPIC_CHAT;

/// What the room is told.
pub const ANNOUNCEMENT: &str = "Echo mode: no speech or language provider is configured, so I repeat \
what you say. Set LLM_BASE_URL, STT_BASE_URL and TTS_BASE_URL (and their API keys) to talk with me.";

/// Echo, announced on join.
#[derive(Debug, Clone)]
pub struct AnnouncedEcho {
    inner: EchoHandler,
}

impl AnnouncedEcho {
    /// Echo after `delay`.
    pub fn new(delay: Duration) -> Self {
        Self { inner: EchoHandler::new(delay) }
    }
}

impl JobHandler for AnnouncedEcho {
    fn run(&self, ctx: JobContext) -> JobFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            let text = ctx.room.text_streams();
            // Sent at once: the data channel queues it until it opens.
            if text.send(TOPIC_CHAT, ANNOUNCEMENT, TextStreamOptions::default()).await.is_err() {
                return Ok(());
            }
            tracing::warn!(room = %ctx.room.name(), "{ANNOUNCEMENT}");
            inner.run(ctx).await
        })
    }
}
