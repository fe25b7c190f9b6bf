//! The far half of the [`AudioSink`](super::AudioSink): agent PCM arriving over a channel goes
//! into the playout queue (with backpressure) and comes out paced, frame by frame, to whoever
//! sends it on (the room task encodes and writes it to the publisher PeerConnection; the
//! in-memory room just counts it). Stop requests drop everything queued or in flight; every
//! change is published as [`PlaybackState`] for the sink's handles.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use super::api::{AudioChunk, Payload, PlaybackState, SinkControl};
use crate::livekit::audio::playout::{OutFrame, Playout};

/// Outgoing agent audio.
pub(super) struct Outbound {
    /// Chunks from the sink (the room loop awaits `recv` on it while [`Outbound::can_take`]).
    pub audio_rx: mpsc::Receiver<AudioChunk>,
    /// Stop requests (the room loop awaits `stop.notified()`).
    pub control: Arc<SinkControl>,
    state_tx: watch::Sender<PlaybackState>,
    playout: Playout,
    /// A chunk (or its rest) that did not fit the playout queue yet.
    pending: Option<AudioChunk>,
    stops_done: u64,
    discarded: u64,
}

impl Outbound {
    pub fn new(
        audio_rx: mpsc::Receiver<AudioChunk>,
        control: Arc<SinkControl>,
        state_tx: watch::Sender<PlaybackState>,
        playout: Playout,
    ) -> Self {
        Self { audio_rx, control, state_tx, playout, pending: None, stops_done: 0, discarded: 0 }
    }

    /// When the next frame is due, if any.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        self.playout.next_deadline(now)
    }

    /// Whether another chunk may be taken from the channel (backpressure otherwise).
    pub fn can_take(&self) -> bool {
        self.pending.is_none()
    }

    /// A chunk arrived from the sink.
    pub fn take(&mut self, chunk: AudioChunk) {
        if chunk.generation < self.control.stops_requested.load(Ordering::Acquire) {
            self.discarded += chunk.payload.samples() as u64;
            return;
        }
        self.pending = Some(chunk);
        self.fill();
    }

    /// Carries out the stop requests made so far, and holds or releases playback as asked.
    pub fn stop(&mut self) {
        let requested = self.control.stops_requested.load(Ordering::Acquire);
        if requested > self.stops_done {
            self.discarded += self.playout.stop() as u64;
            if let Some(chunk) = self.pending.take() {
                self.discarded += chunk.payload.samples() as u64;
            }
            // Chunks still in the channel carry an older generation and are dropped on arrival.
            self.stops_done = requested;
        }
        self.playout.set_paused(*self.control.paused.borrow());
        self.publish_state();
    }

    /// Hands every frame due at `now` to `send`.
    pub fn pump(&mut self, now: Instant, mut send: impl FnMut(&OutFrame)) {
        let mut sent = false;
        while let Some(frame) = self.playout.poll(now) {
            sent = true;
            send(&frame);
        }
        if sent {
            self.fill();
        }
    }

    /// Moves the pending chunk into the playout queue as far as it has room.
    fn fill(&mut self) {
        if let Some(mut chunk) = self.pending.take() {
            let rest = match &mut chunk.payload {
                Payload::Pcm(pcm) => {
                    let n = self.playout.push(pcm);
                    pcm.drain(..n);
                    pcm.len()
                }
                Payload::Opus(frames) => {
                    let n = self.playout.push_encoded(frames);
                    frames.drain(..n);
                    frames.len()
                }
            };
            if rest > 0 {
                self.pending = Some(chunk);
            }
        }
        self.publish_state();
    }

    /// Publishes the counters for the sink's handles.
    pub fn publish_state(&self) {
        let queued = self.playout.queued_samples() as u64
            + self.pending.as_ref().map_or(0, |c| c.payload.samples() as u64);
        let state = PlaybackState {
            played_samples: self.playout.played_samples(),
            queued_samples: queued,
            discarded_samples: self.discarded,
            stops_done: self.stops_done,
            paused: self.playout.is_paused(),
        };
        self.state_tx.send_if_modified(|s| {
            let changed = *s != state;
            *s = state;
            changed
        });
    }
}
