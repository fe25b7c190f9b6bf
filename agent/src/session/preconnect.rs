//! Pre-connect audio in front of a participant's live microphone.
//!
//! A front end that recorded the user before the agent joined sends the recording once the
//! agent is there, and marks its microphone track as having one (`TF_PRECONNECT_BUFFER`).
//! When such a track is subscribed, its live audio is held (at most [`WAIT`], as LiveKit
//! Agents does) until the recording arrives; the listener then hears the recording first and
//! the held audio right after it, as one stream — the user's first words are the start of
//! their speech. Recordings are kept per track for at most [`MAX_AGE`] (a track that never
//! comes), at most [`MAX_KEPT`] of them, each at most [`MAX_SECS`] long.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::livekit::audio::FRAME_SAMPLES;
use crate::livekit::room::{AudioFrame, AudioStream};

/// How long a marked track's live audio waits for its recording.
pub const WAIT: Duration = Duration::from_secs(3);
/// How long a recording waits for its track.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// Recordings kept at once.
pub const MAX_KEPT: usize = 8;
/// Longest recording used (its first seconds are kept).
pub const MAX_SECS: u64 = 20;

/// Recordings waiting for their track, and tracks waiting for their recording.
#[derive(Debug, Default)]
pub struct PreConnect {
    ready: HashMap<String, (Instant, Vec<i16>)>,
    waiting: HashMap<String, oneshot::Sender<Vec<i16>>>,
}

impl PreConnect {
    /// The decoded recording (48 kHz mono) for `track_sid` arrived.
    pub fn arrived(&mut self, track_sid: &str, mut pcm: Vec<i16>, now: Instant) {
        pcm.truncate((MAX_SECS * 48_000) as usize);
        if let Some(tx) = self.waiting.remove(track_sid) {
            let _ = tx.send(pcm);
            return;
        }
        self.ready.retain(|_, (at, _)| now.saturating_duration_since(*at) < MAX_AGE);
        if self.ready.len() >= MAX_KEPT
            && let Some(oldest) = self.ready.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
        {
            self.ready.remove(&oldest);
        }
        self.ready.insert(track_sid.to_owned(), (now, pcm));
    }

    /// `track_sid` is subscribed and marked as having a recording: the stream to listen to,
    /// which plays the recording (once here, within [`WAIT`]) before the live audio, and the
    /// future that feeds it (run it with the listener; it ends when either side does).
    pub fn prepend(
        &mut self,
        track_sid: &str,
        live: AudioStream,
        now: Instant,
    ) -> (AudioStream, impl Future<Output = ()> + Send + 'static) {
        let (tx, rx) = oneshot::channel();
        match self.ready.remove(track_sid) {
            Some((at, pcm)) if now.saturating_duration_since(at) < MAX_AGE => {
                let _ = tx.send(pcm);
            }
            _ => {
                self.waiting.retain(|_, tx| !tx.is_closed());
                self.waiting.insert(track_sid.to_owned(), tx);
            }
        }
        let (out, stream) = mpsc::channel(64);
        (AudioStream::new(stream), forward(rx, live, out))
    }
}

/// Holds live frames (bounded by [`WAIT`]) until the recording comes, sends it, then relays.
async fn forward(
    recording: oneshot::Receiver<Vec<i16>>,
    mut live: AudioStream,
    out: mpsc::Sender<AudioFrame>,
) {
    let mut held = Vec::new();
    let wait = tokio::time::sleep(WAIT);
    tokio::pin!(wait);
    tokio::pin!(recording);
    let pcm = loop {
        tokio::select! {
            r = &mut recording => break r.unwrap_or_default(),
            () = &mut wait => break Vec::new(),
            frame = live.recv() => match frame {
                Some(f) => held.push(f),
                None => break Vec::new(),
            },
        }
    };
    if !pcm.is_empty() {
        tracing::debug!(secs = pcm.len() as f64 / 48_000.0, "pre-connect audio in front of the live track");
    }
    // The recording ends where the live audio begins (RTP time), so no gap is filled in.
    let first_live = held.first().map_or(0, |f| f.rtp_time);
    let frames = pcm.len().div_ceil(FRAME_SAMPLES) as u64;
    let mut rtp = first_live.wrapping_sub(frames * FRAME_SAMPLES as u64);
    for chunk in pcm.chunks(FRAME_SAMPLES) {
        let mut samples = chunk.to_vec();
        samples.resize(FRAME_SAMPLES, 0);
        if out.send(AudioFrame { samples, rtp_time: rtp, recovered: false }).await.is_err() {
            return;
        }
        rtp = rtp.wrapping_add(FRAME_SAMPLES as u64);
    }
    for frame in held {
        if out.send(frame).await.is_err() {
            return;
        }
    }
    while let Some(frame) = live.recv().await {
        if out.send(frame).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    fn frame(rtp: u64, v: i16) -> AudioFrame {
        AudioFrame { samples: vec![v; FRAME_SAMPLES], rtp_time: rtp, recovered: false }
    }

    async fn collect(mut s: AudioStream, n: usize) -> Vec<AudioFrame> {
        let mut v = Vec::new();
        while v.len() < n {
            match s.recv().await {
                Some(f) => v.push(f),
                None => break,
            }
        }
        v
    }

    #[tokio::test(start_paused = true)]
    async fn a_recording_that_comes_later_plays_before_the_held_live_audio() {
        let mut p = PreConnect::default();
        let (tx, rx) = mpsc::channel(16);
        let (stream, feed) = p.prepend("TR_1", AudioStream::new(rx), clock::now());
        tokio::spawn(feed);
        tx.send(frame(96_000, 7)).await.unwrap();
        tx.send(frame(96_960, 8)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        // 1.5 frames of recording.
        p.arrived("TR_1", vec![1; FRAME_SAMPLES * 3 / 2], clock::now());
        let got = collect(stream, 4).await;
        let values: Vec<i16> = got.iter().map(|f| f.samples[0]).collect();
        assert_eq!(values, [1, 1, 7, 8]);
        assert_eq!(got[1].samples[FRAME_SAMPLES - 1], 0, "the last recorded frame is padded");
        let rtps: Vec<u64> = got.iter().map(|f| f.rtp_time).collect();
        assert_eq!(rtps, [96_000 - 1920, 96_000 - 960, 96_000, 96_960], "no gap before the live audio");
    }

    #[tokio::test(start_paused = true)]
    async fn a_recording_that_came_first_is_used_and_a_missing_one_is_not_waited_for_long() {
        let mut p = PreConnect::default();
        p.arrived("TR_1", vec![3; FRAME_SAMPLES], clock::now());
        let (tx, rx) = mpsc::channel(16);
        let (stream, feed) = p.prepend("TR_1", AudioStream::new(rx), clock::now());
        tokio::spawn(feed);
        tx.send(frame(0, 9)).await.unwrap();
        let values: Vec<i16> = collect(stream, 2).await.iter().map(|f| f.samples[0]).collect();
        assert_eq!(values, [3, 9]);

        // No recording: live audio flows after WAIT.
        let (tx, rx) = mpsc::channel(16);
        let start = clock::now();
        let (stream, feed) = p.prepend("TR_2", AudioStream::new(rx), start);
        tokio::spawn(feed);
        tx.send(frame(0, 5)).await.unwrap();
        let got = collect(stream, 1).await;
        assert_eq!(got[0].samples[0], 5);
        assert!(clock::now() >= start + WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn old_and_excess_recordings_are_forgotten() {
        let mut p = PreConnect::default();
        let t0 = clock::now();
        p.arrived("old", vec![1; 10], t0);
        for i in 0..MAX_KEPT {
            p.arrived(&format!("TR_{i}"), vec![1; 10], t0 + MAX_AGE / 2);
        }
        assert!(!p.ready.contains_key("old"), "the oldest went first");
        assert_eq!(p.ready.len(), MAX_KEPT);
        p.arrived("late", vec![1; 10], t0 + MAX_AGE * 2);
        assert_eq!(p.ready.len(), 1, "expired ones dropped");
        p.arrived("long", vec![1; (MAX_SECS as usize + 5) * 48_000], t0 + MAX_AGE * 2);
        assert_eq!(p.ready["long"].1.len(), MAX_SECS as usize * 48_000);
    }
}
