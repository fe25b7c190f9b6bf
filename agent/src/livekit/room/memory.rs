//! An in-memory room pair: a [`Room`] exactly as the session uses it (events in, the audio
//! sink, text streams out), and its [`FarEnd`], where a test plays the other participants and
//! the server. No sockets, no codec: the far end paces the agent's audio with the same
//! [`Playout`] the real room uses (on tokio time, so paused time runs it instantly), carries
//! out stops like the real room task, reassembles the text streams the agent sends, and shows
//! the agent's participant attributes.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use voice_agent::livekit::room::memory;
//! let (mut room, far) = memory::pair("demo", "agent");
//! let _mic = far.join("alice").await;
//! assert!(matches!(room.next_event().await, Some(voice_agent::livekit::room::RoomEvent::ParticipantJoined { .. })));
//! room.audio_sink().play(vec![1; 960]).await.unwrap();
//! far.wait_played(960).await;
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use livekit_protocol::data_packet::Value;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::api::{AudioFrame, AudioStream};
use super::outbound::Outbound;
use super::outgoing::{OutgoingData, OutgoingPacket};
use super::{CloseReason, PlaybackState, Room, RoomEvent};
use crate::clock;
use crate::livekit::audio::playout::Playout;

/// How much agent audio may wait to be played (as the real room's default).
const PLAYOUT: Duration = Duration::from_secs(5);

/// A text stream the agent sent, as a receiver reassembles it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentText {
    /// Topic (`lk.transcription`, `lk.chat`, …).
    pub topic: String,
    /// Sent in the name of this participant (empty: the agent itself).
    pub sender: String,
    /// Header attributes, updated by the trailer's once closed.
    pub attributes: HashMap<String, String>,
    /// The chunks so far, joined.
    pub text: String,
    /// The trailer's reason once closed (`Some("")` for a normal end).
    pub closed: Option<String>,
}

#[derive(Debug, Default)]
struct Texts {
    all: Vec<SentText>,
    by_id: HashMap<String, usize>,
}

/// The other side of an in-memory [`Room`]: participants, the server, and what they receive.
#[derive(Debug, Clone)]
pub struct FarEnd {
    events: mpsc::Sender<RoomEvent>,
    state: watch::Receiver<PlaybackState>,
    texts: Arc<Mutex<Texts>>,
    texts_changed: Arc<Notify>,
    attributes: watch::Receiver<BTreeMap<String, String>>,
    left: CancellationToken,
}

/// A room named `name` joined as `identity`, and its far end. Spawns the far end's task on
/// the current tokio runtime.
pub fn pair(name: &str, identity: &str) -> (Room, FarEnd) {
    let (room, wiring) = super::wire(name.to_owned(), identity.to_owned());
    // The agent's track is published at once here.
    wiring.track_tx.send_replace(Some(format!("TR_{identity}")));
    let far = FarEnd {
        events: wiring.events,
        state: room.sink.state.clone(),
        texts: Arc::default(),
        texts_changed: Arc::default(),
        attributes: wiring.attributes,
        left: wiring.leave.clone(),
    };
    let task = FarTask {
        outbound: Outbound::new(wiring.audio_rx, wiring.control, wiring.state_tx, Playout::new(PLAYOUT)),
        data_rx: wiring.data_rx,
        texts: far.texts.clone(),
        texts_changed: far.texts_changed.clone(),
    };
    let handle = tokio::spawn(task.run(wiring.leave));
    (room.served_by(handle), far)
}

impl FarEnd {
    /// `identity` joins and publishes a microphone: returns its sender (frames of 48 kHz mono).
    pub async fn join(&self, identity: &str) -> mpsc::Sender<AudioFrame> {
        self.join_with(identity, false).await
    }

    /// [`FarEnd::join`], with a microphone marked as having a pre-connect recording
    /// (`TF_PRECONNECT_BUFFER`) if `preconnect`. The track's sid is `TR_<identity>`.
    pub async fn join_with(&self, identity: &str, preconnect: bool) -> mpsc::Sender<AudioFrame> {
        let (tx, rx) = mpsc::channel(64);
        self.event(RoomEvent::ParticipantJoined { identity: identity.to_owned(), name: identity.to_owned() })
            .await;
        self.event(RoomEvent::TrackSubscribed {
            identity: identity.to_owned(),
            track_sid: format!("TR_{identity}"),
            audio: AudioStream::new(rx).with_preconnect(preconnect),
        })
        .await;
        tx
    }

    /// `identity` leaves the room.
    pub async fn leave(&self, identity: &str) {
        self.event(RoomEvent::ParticipantLeft { identity: identity.to_owned() }).await;
    }

    /// The server ends the room for the agent.
    pub async fn close(&self, reason: CloseReason) {
        self.event(RoomEvent::Closed(reason)).await;
    }

    /// Sends any room event.
    pub async fn event(&self, event: RoomEvent) {
        // The agent may have gone already; then nobody is left to tell.
        let _ = self.events.send(event).await;
    }

    /// What the agent's audio sink has done so far.
    pub fn playback(&self) -> PlaybackState {
        *self.state.borrow()
    }

    /// Waits until `samples` of agent audio have been played in total.
    pub async fn wait_played(&self, samples: u64) -> PlaybackState {
        let mut state = self.state.clone();
        let _ = state.wait_for(|s| s.played_samples >= samples).await;
        *state.borrow()
    }

    /// Every text stream the agent opened, in order.
    pub fn texts(&self) -> Vec<SentText> {
        self.lock().all.clone()
    }

    /// Waits until some text stream satisfies `found` and returns it.
    pub async fn wait_text(&self, found: impl Fn(&SentText) -> bool) -> SentText {
        loop {
            let changed = self.texts_changed.notified();
            if let Some(t) = self.lock().all.iter().find(|t| found(t)) {
                return t.clone();
            }
            changed.await;
        }
    }

    /// The agent's participant attributes as last set (e.g. `lk.agent.state`).
    pub fn attributes(&self) -> BTreeMap<String, String> {
        self.attributes.borrow().clone()
    }

    /// The agent's attributes as they change (for a test that records every change).
    pub fn watch_attributes(&self) -> watch::Receiver<BTreeMap<String, String>> {
        self.attributes.clone()
    }

    /// Waits until the agent's attributes satisfy `found`, and returns them.
    pub async fn wait_attributes(
        &self,
        found: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> BTreeMap<String, String> {
        let mut attributes = self.attributes.clone();
        let _ = attributes.wait_for(|a| found(a)).await;
        attributes.borrow().clone()
    }

    /// Whether the agent has left the room.
    pub fn agent_left(&self) -> bool {
        self.left.is_cancelled()
    }

    fn lock(&self) -> MutexGuard<'_, Texts> {
        self.texts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The far end's half of the sink and the data channel.
struct FarTask {
    outbound: Outbound,
    data_rx: mpsc::Receiver<OutgoingData>,
    texts: Arc<Mutex<Texts>>,
    texts_changed: Arc<Notify>,
}

impl FarTask {
    async fn run(mut self, leave: CancellationToken) {
        self.outbound.publish_state();
        loop {
            let due = self.outbound.deadline(clock::now());
            let can_take = self.outbound.can_take();
            tokio::select! {
                () = leave.cancelled() => return,
                () = self.outbound.control.stop.notified() => self.outbound.stop(),
                Some(chunk) = self.outbound.audio_rx.recv(), if can_take => self.outbound.take(chunk),
                Some(data) = self.data_rx.recv() => self.data(data),
                // Played frames go nowhere: the sink's counters are what a test reads.
                () = sleep_until(due) => self.outbound.pump(clock::now(), |_| {}),
            }
        }
    }

    fn data(&mut self, data: OutgoingData) {
        let OutgoingPacket::Stream { sender, value } = data.packet else { return };
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        match *value {
            Value::StreamHeader(h) => {
                let i = texts.all.len();
                texts.by_id.insert(h.stream_id, i);
                texts.all.push(SentText {
                    topic: h.topic,
                    sender,
                    attributes: h.attributes,
                    ..SentText::default()
                });
            }
            Value::StreamChunk(c) => {
                if let Some(&i) = texts.by_id.get(&c.stream_id) {
                    texts.all[i].text.push_str(&String::from_utf8_lossy(&c.content));
                }
            }
            Value::StreamTrailer(t) => {
                if let Some(i) = texts.by_id.remove(&t.stream_id) {
                    // As clients do: the trailer's attributes update the header's.
                    texts.all[i].attributes.extend(t.attributes);
                    texts.all[i].closed = Some(t.reason);
                }
            }
            _ => return,
        }
        drop(texts);
        self.texts_changed.notify_waiters();
    }
}

async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
