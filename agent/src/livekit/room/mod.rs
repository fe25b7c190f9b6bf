//! The room participant: join with a token, receive every user's microphone as PCM, publish
//! the agent's voice, exchange data packets and text streams, keep our attributes set.
//!
//! [`join`] connects (signalling handshake) and spawns the room's task; the returned
//! [`Room`] is the whole interface the rest of the agent uses (see [`api`]).

pub mod api;
pub mod attributes;
mod conn;
mod datagrams;
pub mod incoming;
pub mod memory;
mod outbound;
pub mod outgoing;
pub mod preconnect;
mod publish;
pub mod registry;
mod task;
pub mod text_stream;

use crate::secret::Secret;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use api::{
    Attributes, AudioFrame, AudioSink, AudioStream, ChatMessage, CloseReason, DataMessage, PlaybackState,
    Room, RoomEvent,
};
pub use attributes::AgentState;
pub use conn::MEDIA_TIMEOUT;
pub use outgoing::RoomClosed;
pub use preconnect::{PreConnectAudio, PreConnectError};
pub use registry::Listen;
pub use text_stream::{TextStream, TextStreamOptions, TextStreams};

use super::audio::opus::{EncoderSettings, OpusEncoder};
use super::audio::playout::Playout;
use super::signal::JoinError;
use api::SinkControl;

/// How to join.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// Server base URL (`ws://…` / `wss://…`).
    pub url: String,
    /// Room-join token (from the JobAssignment); prints as `<redacted>`.
    pub token: Secret,
    /// When the job was assigned, for the join-time metric.
    pub started_at: Instant,
    /// Opus encoder settings for our track.
    pub encoder: EncoderSettings,
    /// How much agent audio may wait in the playout queue before `play` waits.
    pub playout_capacity: Duration,
    /// Whom to listen to: users (an agent, the default) or everyone (a participant playing a
    /// user, e.g. a load generator).
    pub listen: Listen,
}

impl JoinOptions {
    /// Defaults: 32 kbit/s Opus, 5 s playout queue, listening to users.
    pub fn new(url: &str, token: impl Into<Secret>, started_at: Instant) -> Self {
        Self {
            url: url.to_owned(),
            token: token.into(),
            started_at,
            encoder: EncoderSettings::default(),
            playout_capacity: Duration::from_secs(5),
            listen: Listen::Users,
        }
    }
}

/// Joins a room. Returns once the server accepted the join; media connects in the
/// background and a failure there arrives as [`RoomEvent::Closed`].
pub async fn join(options: JoinOptions) -> Result<Room, JoinError> {
    let encoder = OpusEncoder::new(options.encoder).map_err(|e| JoinError::Local(e.to_string()))?;
    let (conn, join) = conn::Conn::open(&options.url, &options.token).await?;
    let local = join.participant.clone().unwrap_or_default();
    let room_name = join.room.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    tracing::info!(room = %room_name, identity = %local.identity, "joined room");

    let (room, wiring) = wire(room_name, local.identity);
    let playout = Playout::new(options.playout_capacity);
    let task = task::RoomTask::new(
        options.url.clone(),
        options.started_at,
        wiring,
        playout,
        encoder,
        options.listen,
        &join,
    );
    Ok(room.served_by(tokio::spawn(task.run(conn))))
}

/// A [`Room`] handle and the ends of its channels for whatever serves it: the room task, or
/// the in-memory far end ([`memory`]).
fn wire(name: String, identity: String) -> (Room, task::Wiring) {
    let (events_tx, events_rx) = mpsc::channel(256);
    let (data_tx, data_rx) = mpsc::channel(64);
    let (audio_tx, audio_rx) = mpsc::channel(16);
    let (state_tx, state_rx) = watch::channel(PlaybackState::default());
    let (track_tx, track_rx) = watch::channel(None);
    let control = Arc::new(SinkControl::default());
    let (attributes, attributes_rx) = Attributes::new();
    let leave = CancellationToken::new();
    let wiring = task::Wiring {
        events: events_tx,
        data_rx,
        audio_rx,
        control: control.clone(),
        state_tx,
        track_tx,
        attributes: attributes_rx,
        leave: leave.clone(),
    };
    let room = Room {
        name,
        identity,
        events: events_rx,
        sink: AudioSink { tx: audio_tx, control, state: state_rx, track: track_rx },
        data: data_tx,
        attributes,
        leave,
        task: None,
    };
    (room, wiring)
}

impl Room {
    fn served_by(mut self, task: tokio::task::JoinHandle<()>) -> Self {
        self.task = Some(task);
        self
    }
}
