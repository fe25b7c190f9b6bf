//! How the session hears a participant: a subscribed audio track in, [`Event::SpeechStarted`]
//! / [`Event::SpeechEnded`] out to the loop. [`VadHearing`] runs the real VAD listener
//! ([`super::listen`]); [`ScriptedEars`] lets a test speak for a participant directly, on the
//! same path (the participant's track must be subscribed first, as in a room).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::Event;
use crate::core::segmenter::SegmenterConfig;
use crate::livekit::room::AudioStream;
use crate::vad::VadService;

/// Starts listening to one participant's track.
pub trait Hearing: Send + Sync {
    /// A task that runs until the track ends, reporting speech to `events`.
    fn listen(
        &self,
        who: Arc<str>,
        audio: AudioStream,
        events: mpsc::Sender<Event>,
    ) -> BoxFuture<'static, ()>;
}

/// The Silero VAD through the worker's batching service.
pub struct VadHearing {
    /// The batching VAD service.
    pub vad: VadService,
    /// Segmenter settings per stream.
    pub segmenter: SegmenterConfig,
}

impl Hearing for VadHearing {
    fn listen(
        &self,
        who: Arc<str>,
        audio: AudioStream,
        events: mpsc::Sender<Event>,
    ) -> BoxFuture<'static, ()> {
        let stream = self.vad.stream(self.segmenter.clone());
        Box::pin(super::listen::listen(who, audio, stream, events))
    }
}

/// Ears a test speaks through: each subscribed participant's event sender, kept by identity.
/// Audio frames are read and ignored.
#[derive(Debug, Clone, Default)]
pub struct ScriptedEars {
    senders: Arc<Mutex<HashMap<Arc<str>, mpsc::Sender<Event>>>>,
}

impl ScriptedEars {
    /// Ears with nobody subscribed yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn sender(&self, who: &str) -> Option<mpsc::Sender<Event>> {
        self.senders.lock().unwrap_or_else(|e| e.into_inner()).get(who).cloned()
    }

    /// Whether the session listens to `who` (their track is subscribed and admitted).
    pub fn listening(&self, who: &str) -> bool {
        self.sender(who).is_some_and(|tx| !tx.is_closed())
    }

    /// `who` starts speaking at `at`; `false` if their track is not subscribed (or the session
    /// is gone).
    pub async fn speech_started(&self, who: &str, at: Instant) -> bool {
        let Some(tx) = self.sender(who) else { return false };
        tx.send(Event::SpeechStarted { who: Arc::from(who), start: at }).await.is_ok()
    }

    /// `who` stopped speaking at `at`, after `pcm` (16 kHz mono).
    pub async fn speech_ended(&self, who: &str, at: Instant, pcm: Vec<i16>) -> bool {
        let Some(tx) = self.sender(who) else { return false };
        tx.send(Event::SpeechEnded { who: Arc::from(who), end: at, pcm }).await.is_ok()
    }
}

impl Hearing for ScriptedEars {
    fn listen(
        &self,
        who: Arc<str>,
        mut audio: AudioStream,
        events: mpsc::Sender<Event>,
    ) -> BoxFuture<'static, ()> {
        self.senders.lock().unwrap_or_else(|e| e.into_inner()).insert(who.clone(), events);
        let gone = Unlisten { senders: self.senders.clone(), who };
        Box::pin(async move {
            // Ends with the track, or is aborted by the session; either way `gone` forgets it.
            let _gone = gone;
            while audio.recv().await.is_some() {}
        })
    }
}

/// Forgets a participant's sender when their listening task ends or is aborted.
struct Unlisten {
    senders: Arc<Mutex<HashMap<Arc<str>, mpsc::Sender<Event>>>>,
    who: Arc<str>,
}

impl Drop for Unlisten {
    fn drop(&mut self) {
        self.senders.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.who);
    }
}
