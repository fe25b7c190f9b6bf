//! The agent's transcript of one reply, paced with its audio, as LiveKit front ends show it.
//!
//! One text stream per reply on `lk.transcription`: its header says `lk.segment_id` (stable
//! for the reply), `lk.transcription_final = "false"` and `lk.transcribed_track_id` (the
//! agent's audio track); its trailer says `lk.transcription_final = "true"` (LiveKit Agents
//! does the same; clients merge trailer attributes into the stream's). Words are written as
//! their audio plays — a sentence's words spread over its audio in proportion to their
//! length — so a caption never runs ahead of the voice, and after a barge-in it ends at what
//! was heard (the trailer then adds `lk.interrupted = "true"`). The stream is opened with the
//! first word that plays: a front end that registered its handler by then sees the whole
//! caption, and a reply that was never heard leaves no empty caption behind.
//!
//! Sentences with no audio (speech synthesis down) are shown when playback reaches them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;

use crate::livekit::room::text_stream::{ATTR_FINAL, ATTR_SEGMENT_ID, ATTR_TRACK_ID, TOPIC_TRANSCRIPTION};
use crate::livekit::room::{AudioSink, TextStream, TextStreamOptions, TextStreams};

/// Trailer attribute of a caption cut short by a barge-in.
pub const ATTR_INTERRUPTED: &str = "lk.interrupted";
/// Longest wait for a stop to take effect before the heard position is read.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// One sentence: its text and where its audio lies in the sink's played-sample count.
#[derive(Debug)]
struct Cue {
    words: Vec<String>,
    start: u64,
    /// Samples of audio; `None` while its speech is still arriving.
    len: Option<u64>,
}

#[derive(Debug, Default)]
struct Plan {
    cues: Vec<Cue>,
    /// `Some(interrupted)` once the reply is over.
    done: Option<bool>,
}

#[derive(Debug, Default)]
struct Shared {
    plan: Mutex<Plan>,
    changed: Notify,
}

impl Shared {
    fn edit(&self, f: impl FnOnce(&mut Plan)) {
        f(&mut self.plan.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.notify_one();
    }
}

/// The caption of one reply; feed it sentences as their audio is queued.
#[derive(Debug)]
pub struct Captions {
    shared: Arc<Shared>,
}

impl Captions {
    /// The caption of reply `segment`, and the writer that sends it to `text` as `sink`
    /// plays: poll the writer alongside the reply (it is no task of its own, so it ends with
    /// the reply's task); it returns once [`Captions::done`] was called and all is sent.
    pub fn new(text: TextStreams, sink: AudioSink, segment: String) -> (Self, BoxFuture<'static, ()>) {
        let shared = Arc::new(Shared::default());
        let writer = Box::pin(write(shared.clone(), text, sink, segment));
        (Self { shared }, writer)
    }

    /// A sentence whose audio starts at played-sample position `start`.
    pub fn sentence(&self, text: &str, start: u64) {
        let words = text.split_inclusive(' ').map(str::to_owned).collect();
        self.shared.edit(|p| p.cues.push(Cue { words, start, len: None }));
    }

    /// The audio of the last sentence is complete: `len` samples.
    pub fn length(&self, len: u64) {
        self.shared.edit(|p| {
            if let Some(c) = p.cues.last_mut() {
                c.len = Some(len);
            }
        });
    }

    /// A sentence with no audio, shown once playback reaches `at`.
    pub fn text_only(&self, text: &str, at: u64) {
        self.sentence(text, at);
        self.length(0);
    }

    /// The reply is over — played out, or `interrupted` (barge-in, participant gone): the
    /// writer writes what was heard, closes the stream and returns.
    pub fn done(&self, interrupted: bool) {
        self.shared.edit(|p| p.done = Some(interrupted));
    }
}

/// The next word not yet written: `(cue, word)` indexes, or `None` if all are.
fn next(plan: &Plan, written: (usize, usize)) -> Option<(usize, usize)> {
    let (mut c, mut w) = written;
    while let Some(cue) = plan.cues.get(c) {
        if w < cue.words.len() {
            return Some((c, w));
        }
        c += 1;
        w = 0;
    }
    None
}

/// The played-sample count at which word `w` of `cue` is heard; `None` while unknown.
fn due(cue: &Cue, w: usize) -> Option<u64> {
    if w == 0 {
        return Some(cue.start + 1);
    }
    let len = cue.len?;
    let total: usize = cue.words.iter().map(|x| x.chars().count()).sum();
    let before: usize = cue.words[..w].iter().map(|x| x.chars().count()).sum();
    Some(cue.start + 1 + len * before as u64 / total.max(1) as u64)
}

async fn write(shared: Arc<Shared>, text: TextStreams, sink: AudioSink, segment: String) {
    let mut out = Output { text, segment, track: None, stream: None, empty: true };
    let mut written = (0usize, 0usize);
    loop {
        let changed = shared.changed.notified();
        let (word, done) = {
            let plan = shared.plan.lock().unwrap_or_else(|e| e.into_inner());
            let word = next(&plan, written).map(|(c, w)| {
                let cue = &plan.cues[c];
                (c, w, due(cue, w), cue.words[w].clone(), c > 0 || w > 0)
            });
            (word, plan.done)
        };
        match (word, done) {
            (_, Some(true)) => {
                let heard = stopped_at(&sink).await;
                write_heard(&shared, &mut out, &sink, written, heard).await;
                out.close(true).await;
                return;
            }
            (None, Some(false)) => {
                out.close(false).await;
                return;
            }
            // Played out: every word was heard.
            (Some((c, w, _, piece, later)), Some(false)) => {
                out.write(&sink, &piece, later && w == 0).await;
                written = (c, w + 1);
            }
            (Some((c, w, Some(due), piece, later)), None) => {
                if sink.state().played_samples < due {
                    tokio::select! {
                        _ = sink.wait_played(due) => {}
                        () = changed => {}
                    }
                    continue;
                }
                out.write(&sink, &piece, later && w == 0).await;
                written = (c, w + 1);
            }
            // Nothing planned yet, or the next word's timing is not known yet.
            (_, None) => changed.await,
        }
    }
}

/// After a barge-in: writes the words whose audio was played by the time the stop took effect.
async fn write_heard(
    shared: &Shared,
    out: &mut Output,
    sink: &AudioSink,
    mut written: (usize, usize),
    heard: u64,
) -> (usize, usize) {
    loop {
        let word = {
            let plan = shared.plan.lock().unwrap_or_else(|e| e.into_inner());
            next(&plan, written).and_then(|(c, w)| {
                let d = due(&plan.cues[c], w)?;
                (d <= heard).then(|| (c, w, plan.cues[c].words[w].clone(), c > 0 || w > 0))
            })
        };
        let Some((c, w, piece, later)) = word else { return written };
        out.write(sink, &piece, later && w == 0).await;
        written = (c, w + 1);
    }
}

/// The played position once the sink's queue has been dropped by the stop (bounded wait).
async fn stopped_at(sink: &AudioSink) -> u64 {
    let _ = tokio::time::timeout(STOP_WAIT, async {
        while sink.state().queued_samples > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    sink.state().played_samples
}

/// The stream, opened with the first word.
struct Output {
    text: TextStreams,
    segment: String,
    /// Our track, read when the stream opens.
    track: Option<Option<String>>,
    stream: Option<TextStream>,
    empty: bool,
}

impl Output {
    fn attributes(&self, fin: bool) -> HashMap<String, String> {
        let mut a: HashMap<String, String> = [(ATTR_FINAL.to_owned(), fin.to_string())].into();
        if let Some(Some(track)) = &self.track {
            a.insert(ATTR_TRACK_ID.to_owned(), track.clone());
        }
        a
    }

    async fn write(&mut self, sink: &AudioSink, piece: &str, new_sentence: bool) {
        if self.stream.is_none() {
            self.track = Some(sink.track_sid());
            let mut attributes = self.attributes(false);
            attributes.insert(ATTR_SEGMENT_ID.to_owned(), self.segment.clone());
            let options = TextStreamOptions { attributes, ..TextStreamOptions::default() };
            // A closed room ends the session anyway.
            self.stream = self.text.open(TOPIC_TRANSCRIPTION, options).await.ok();
        }
        let Some(stream) = self.stream.as_mut() else { return };
        let piece = if new_sentence && !self.empty { format!(" {piece}") } else { piece.to_owned() };
        self.empty = false;
        let _ = stream.write(&piece).await;
    }

    async fn close(mut self, interrupted: bool) {
        let Some(stream) = self.stream.take() else { return };
        let mut attributes = self.attributes(true);
        if interrupted {
            attributes.insert(ATTR_INTERRUPTED.to_owned(), "true".to_owned());
        }
        let _ = stream.close_with("", attributes).await;
    }
}

#[cfg(test)]
#[path = "captions_tests.rs"]
mod tests;
