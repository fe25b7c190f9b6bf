//! The room as the rest of the agent sees it: events with per-participant audio streams in,
//! an audio sink out (with stop-now and a count of what was actually played), and data
//! packets both ways, typed chat messages and pre-connect audio in, our participant
//! attributes out. Nothing here knows about WebRTC.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::attributes::{ATTR_AGENT_STATE, AgentState};
use super::outgoing::{OutgoingData, OutgoingPacket, RoomClosed};
use super::preconnect::PreConnectAudio;
use super::text_stream::TextStreams;
pub use crate::livekit::audio::AudioFrame;
use crate::livekit::audio::opus::EncodedFrame;
use crate::livekit::audio::{FRAME_SAMPLES, SAMPLE_RATE};

/// One remote participant's microphone. Ends (`recv` → `None`) when the track goes away.
#[derive(Debug)]
pub struct AudioStream {
    rx: mpsc::Receiver<AudioFrame>,
    preconnect: bool,
}

impl AudioStream {
    pub(crate) fn new(rx: mpsc::Receiver<AudioFrame>) -> Self {
        Self { rx, preconnect: false }
    }

    /// Marks the track as one whose front end recorded audio before the agent joined.
    pub(crate) fn with_preconnect(mut self, preconnect: bool) -> Self {
        self.preconnect = preconnect;
        self
    }

    /// The track's front end recorded the user before the agent joined and sends that as
    /// [`RoomEvent::PreConnectAudio`] (the track carries `TF_PRECONNECT_BUFFER`).
    pub fn expects_preconnect(&self) -> bool {
        self.preconnect
    }

    /// The next frame. Frames the consumer does not pick up in time are dropped (counted in
    /// `livekit_audio_frames_dropped`) rather than buffered without bound.
    pub async fn recv(&mut self) -> Option<AudioFrame> {
        self.rx.recv().await
    }
}

/// A data packet from the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage {
    /// Sender identity (empty when sent by the server API).
    pub from: String,
    /// Topic, if the sender set one.
    pub topic: Option<String>,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

/// A typed message from a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Sender identity.
    pub from: String,
    /// The text (bounded: see [`super::incoming::Limits`]).
    pub text: String,
    /// The sender sent more than was kept.
    pub truncated: bool,
}

/// Why the room ended for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// We left (job finished or cancelled).
    Left,
    /// The server disconnected us for good (room deleted, removed, duplicate identity…).
    Disconnected(String),
    /// Something broke and reconnecting did not help.
    Failed(String),
}

/// Something happened in the room.
#[derive(Debug)]
pub enum RoomEvent {
    /// A remote participant is in the room (also sent for those present when we joined).
    ParticipantJoined {
        /// Identity.
        identity: String,
        /// Display name.
        name: String,
    },
    /// A remote participant left.
    ParticipantLeft {
        /// Identity.
        identity: String,
    },
    /// A remote audio track is subscribed: its decoded audio flows into `audio`.
    TrackSubscribed {
        /// Owner's identity.
        identity: String,
        /// Track sid.
        track_sid: String,
        /// The decoded audio.
        audio: AudioStream,
    },
    /// The track's stream has ended.
    TrackUnsubscribed {
        /// Owner's identity.
        identity: String,
        /// Track sid.
        track_sid: String,
    },
    /// A remote track was muted or unmuted (a muted track simply sends no audio).
    TrackMuted {
        /// Owner's identity.
        identity: String,
        /// Track sid.
        track_sid: String,
        /// New state.
        muted: bool,
    },
    /// A data packet arrived (from a user; chat packets arrive as [`RoomEvent::Chat`]).
    Data(DataMessage),
    /// A user typed a message: a text stream on `lk.chat`, or a legacy chat packet.
    Chat(ChatMessage),
    /// A user's front end sent what it recorded before the agent joined (decode it off the
    /// room's loop with [`PreConnectAudio::decode`]).
    PreConnectAudio(PreConnectAudio),
    /// The connection was rebuilt after a server request or a network failure; tracks are
    /// re-subscribed (new `TrackSubscribed` events follow).
    Reconnected,
    /// The room is over for us; no more events follow.
    Closed(CloseReason),
}

/// What the sink has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaybackState {
    /// Samples sent to the room since the room was joined (48 kHz).
    pub played_samples: u64,
    /// Samples accepted but not yet played.
    pub queued_samples: u64,
    /// Samples discarded by stops since the room was joined.
    pub discarded_samples: u64,
    /// The last stop request the room has carried out.
    pub stops_done: u64,
    /// Playback is held ([`AudioSink::pause`]).
    pub paused: bool,
}

impl PlaybackState {
    /// `played_samples` as a duration.
    pub fn played(&self) -> Duration {
        Duration::from_secs_f64(self.played_samples as f64 / f64::from(SAMPLE_RATE))
    }
}

/// A chunk of agent audio on its way to the room task.
#[derive(Debug)]
pub(crate) struct AudioChunk {
    /// The stop generation it belongs to; chunks of an older generation are dropped.
    pub generation: u64,
    pub payload: Payload,
}

/// PCM to encode, or frames encoded ahead of time.
#[derive(Debug)]
pub(crate) enum Payload {
    Pcm(Vec<i16>),
    Opus(Vec<EncodedFrame>),
}

impl Payload {
    /// Its length in 48 kHz samples.
    pub fn samples(&self) -> usize {
        match self {
            Payload::Pcm(pcm) => pcm.len(),
            Payload::Opus(frames) => frames.len() * FRAME_SAMPLES,
        }
    }
}

/// The sink's side shared with the room task.
#[derive(Debug)]
pub(crate) struct SinkControl {
    /// Incremented by each stop; the room task carries stops out up to this number.
    pub stops_requested: AtomicU64,
    /// Playback held; the room task applies it when notified (`stop`).
    pub paused: watch::Sender<bool>,
    pub stop: Notify,
}

impl Default for SinkControl {
    fn default() -> Self {
        Self { stops_requested: AtomicU64::new(0), paused: watch::Sender::new(false), stop: Notify::new() }
    }
}

/// Where the agent's voice goes: mono 48 kHz PCM, played at real-time pace.
#[derive(Debug, Clone)]
pub struct AudioSink {
    pub(crate) tx: mpsc::Sender<AudioChunk>,
    pub(crate) control: Arc<SinkControl>,
    pub(crate) state: watch::Receiver<PlaybackState>,
    pub(crate) track: watch::Receiver<Option<String>>,
}

impl AudioSink {
    /// Queues PCM for playback; waits while the playout queue is full (backpressure).
    pub async fn play(&self, pcm: Vec<i16>) -> Result<(), RoomClosed> {
        self.send(Payload::Pcm(pcm)).await
    }

    /// Queues frames encoded ahead of time ([`EncodedFrame::encode_all`]): played like PCM
    /// (paced, counted, stopped by [`AudioSink::stop`]) without encoding them again. Play
    /// either PCM or encoded frames at a time: encoded frames go out once the PCM queued
    /// before them has been played.
    pub async fn play_opus(&self, frames: Vec<EncodedFrame>) -> Result<(), RoomClosed> {
        self.send(Payload::Opus(frames)).await
    }

    async fn send(&self, payload: Payload) -> Result<(), RoomClosed> {
        let generation = self.control.stops_requested.load(Ordering::Acquire);
        self.tx.send(AudioChunk { generation, payload }).await.map_err(|_| RoomClosed)
    }

    /// Stops playback at once: everything queued or in flight is dropped. Returns the state
    /// right after the stop, so `played_samples` says exactly how much was heard.
    pub async fn stop(&self) -> PlaybackState {
        // A stop also ends a pause: the next audio plays.
        self.control.paused.send_replace(false);
        let wanted = self.control.stops_requested.fetch_add(1, Ordering::AcqRel) + 1;
        self.control.stop.notify_one();
        let mut state = self.state.clone();
        // If the room closed, the last published state is final anyway.
        let _ = state.wait_for(|s| s.stops_done >= wanted).await;
        *state.borrow()
    }

    /// Holds playback where it is: nothing more is heard, what is queued (and queued later,
    /// up to the queue's bound) stays for [`AudioSink::resume`]; [`AudioSink::stop`] drops it.
    pub fn pause(&self) {
        self.control.paused.send_replace(true);
        self.control.stop.notify_one();
    }

    /// Plays on from where [`AudioSink::pause`] held it.
    pub fn resume(&self) {
        self.control.paused.send_replace(false);
        self.control.stop.notify_one();
    }

    /// Waits while playback is held by [`AudioSink::pause`] (returns at once if it is not).
    pub async fn wait_unpaused(&self) {
        let mut paused = self.control.paused.subscribe();
        let _ = paused.wait_for(|p| !p).await;
    }

    /// The sid of the track this sink plays on, once the server has published it (it changes
    /// after a rejoin). Transcripts name it as `lk.transcribed_track_id`.
    pub fn track_sid(&self) -> Option<String> {
        self.track.borrow().clone()
    }

    /// The current playback counters.
    pub fn state(&self) -> PlaybackState {
        *self.state.borrow()
    }

    /// Waits until at least `samples` have been played in total (or the room closed), and
    /// returns the state then — e.g. the moment the first packet of an answer went out.
    pub async fn wait_played(&self, samples: u64) -> PlaybackState {
        let mut state = self.state.clone();
        let _ = state.wait_for(|s| s.played_samples >= samples).await;
        *state.borrow()
    }

    /// Waits until everything queued so far has been played.
    pub async fn wait_idle(&self) {
        let mut state = self.state.clone();
        let _ = state.wait_for(|s| s.queued_samples == 0).await;
    }
}

/// Our participant's attributes (cheap to clone). Setting one never waits: the room sends
/// the newest values to the server, one request at a time, and retries until it confirms
/// them (also after a reconnect).
#[derive(Debug, Clone)]
pub struct Attributes {
    pub(crate) tx: Arc<watch::Sender<BTreeMap<String, String>>>,
}

impl Attributes {
    pub(crate) fn new() -> (Self, watch::Receiver<BTreeMap<String, String>>) {
        let (tx, rx) = watch::channel(BTreeMap::new());
        (Self { tx: Arc::new(tx) }, rx)
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: &str, value: &str) {
        self.tx.send_if_modified(|m| {
            if m.get(key).is_some_and(|v| v == value) {
                return false;
            }
            m.insert(key.to_owned(), value.to_owned());
            true
        });
    }

    /// Sets `lk.agent.state`.
    pub fn set_agent_state(&self, state: AgentState) {
        self.set(ATTR_AGENT_STATE, state.as_str());
    }

    /// The value last set for `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.tx.borrow().get(key).cloned()
    }
}

/// A joined room.
#[derive(Debug)]
pub struct Room {
    pub(crate) name: String,
    pub(crate) identity: String,
    pub(crate) events: mpsc::Receiver<RoomEvent>,
    pub(crate) sink: AudioSink,
    pub(crate) data: mpsc::Sender<OutgoingData>,
    pub(crate) attributes: Attributes,
    pub(crate) leave: CancellationToken,
    pub(crate) task: Option<tokio::task::JoinHandle<()>>,
}

impl Room {
    /// Room name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Our participant identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The next event; `None` after [`RoomEvent::Closed`].
    pub async fn next_event(&mut self) -> Option<RoomEvent> {
        self.events.recv().await
    }

    /// The agent's audio output.
    pub fn audio_sink(&self) -> AudioSink {
        self.sink.clone()
    }

    /// Sends a reliable data packet to everyone (or to `destinations` if not empty).
    pub async fn send_data(
        &self,
        topic: Option<&str>,
        payload: Vec<u8>,
        destinations: Vec<String>,
    ) -> Result<(), RoomClosed> {
        let packet = OutgoingPacket::User { topic: topic.map(str::to_owned), payload };
        self.data.send(OutgoingData { packet, destinations }).await.map_err(|_| RoomClosed)
    }

    /// Our participant attributes (clone it into tasks), e.g. `lk.agent.state`.
    pub fn attributes(&self) -> Attributes {
        self.attributes.clone()
    }

    /// The room's LiveKit text streams (clone it into tasks); see [`super::text_stream`].
    pub fn text_streams(&self) -> TextStreams {
        TextStreams::new(self.data.clone())
    }

    /// Leaves the room cleanly and waits (briefly) for the goodbye to go out.
    pub async fn leave(mut self) {
        self.leave.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        // Dropping the handle must not leave a ghost participant behind.
        self.leave.cancel();
    }
}
