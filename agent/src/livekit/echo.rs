//! Echo mode (`AGENT_MODE=echo`): plays each participant's audio back to the room after a
//! fixed delay, and sends every data packet back. It proves the whole media path —
//! subscribe, decode, pace, encode, publish — without any provider.
//!
//! Each remote track feeds its own delay line. A frame is due `delay` after the moment the
//! sender produced it, reconstructed from its RTP timestamp (anchored at the first frame), not
//! after it happened to arrive: network jitter is absorbed instead of echoed back. Whenever
//! frames fall due, those of all participants are mixed and handed to the audio sink, which
//! paces them out.
//!
//! An echo job may announce itself: [`EchoHandler::announcing`] sends a text on `lk.chat` to
//! each participant once their audio is subscribed (then their data channel is up, so the
//! text is not lost on a room nobody had joined yet).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::job::{JobContext, JobError, JobFuture, JobHandler};
use super::room::text_stream::TOPIC_CHAT;
use super::room::{AudioFrame, CloseReason, RoomEvent, TextStreamOptions};
use crate::clock;

/// Frames buffered per track: the delay plus slack, bounded (10 s at 20 ms).
const MAX_DELAY_FRAMES: usize = 500;
/// If a frame's RTP-based due time strays this far from its arrival-based one (sender
/// clock jump, new talkspurt after a long pause, reconnect), the timing is re-anchored.
const REANCHOR: Duration = Duration::from_millis(250);

/// The echo job.
#[derive(Debug, Clone)]
pub struct EchoHandler {
    delay: Duration,
    announcement: Option<Arc<str>>,
}

impl EchoHandler {
    /// Echo after `delay` (config `ECHO_DELAY_SECS`).
    pub fn new(delay: Duration) -> Self {
        Self { delay, announcement: None }
    }

    /// The same, telling each participant `text` on `lk.chat` when their audio is subscribed.
    pub fn announcing(delay: Duration, text: &str) -> Self {
        Self { delay, announcement: Some(text.into()) }
    }
}

impl JobHandler for EchoHandler {
    fn run(&self, ctx: JobContext) -> JobFuture {
        Box::pin(echo(ctx, self.delay, self.announcement.clone()))
    }
}

/// One participant's line: frames with their due times, and the RTP timing anchor.
#[derive(Debug, Default)]
struct Line {
    frames: VecDeque<(Instant, Vec<i16>)>,
    anchor: Option<(Instant, u64)>,
}

/// Per-participant delay lines (sans-IO).
#[derive(Debug)]
pub struct DelayLines {
    delay: Duration,
    lines: HashMap<String, Line>,
}

impl DelayLines {
    /// Lines that play audio back `delay` after it was produced.
    pub fn new(delay: Duration) -> Self {
        Self { delay, lines: HashMap::new() }
    }

    /// Queues a frame from `who` with RTP time `rtp_time` (48 kHz) that arrived at `arrived`.
    pub fn push(&mut self, who: &str, arrived: Instant, rtp_time: u64, samples: Vec<i16>) {
        let line = self.lines.entry(who.to_owned()).or_default();
        let by_arrival = arrived + self.delay;
        let by_rtp = line.anchor.and_then(|(t0, r0)| {
            let offset = Duration::from_secs_f64(rtp_time.checked_sub(r0)? as f64 / 48_000.0);
            Some(t0 + self.delay + offset)
        });
        let due = match by_rtp {
            Some(due) if due.max(by_arrival) - due.min(by_arrival) <= REANCHOR => due,
            _ => {
                line.anchor = Some((arrived, rtp_time));
                by_arrival
            }
        };
        if line.frames.len() >= MAX_DELAY_FRAMES {
            line.frames.pop_front();
        }
        line.frames.push_back((due, samples));
    }

    /// Forgets a participant's pending audio.
    pub fn remove(&mut self, who: &str) {
        self.lines.remove(who);
    }

    /// The earliest due time, if anything is queued.
    pub fn next_due(&self) -> Option<Instant> {
        self.lines.values().filter_map(|l| l.frames.front().map(|(t, _)| *t)).min()
    }

    /// Takes everything due at `now`, mixed across participants (each participant's due
    /// frames are concatenated; participants are summed with saturation).
    pub fn take_due(&mut self, now: Instant) -> Option<Vec<i16>> {
        let mut mix: Vec<i16> = Vec::new();
        for line in self.lines.values_mut() {
            let mut own: Vec<i16> = Vec::new();
            while line.frames.front().is_some_and(|(t, _)| *t <= now) {
                if let Some((_, s)) = line.frames.pop_front() {
                    own.extend_from_slice(&s);
                }
            }
            if own.len() > mix.len() {
                mix.resize(own.len(), 0);
            }
            for (m, s) in mix.iter_mut().zip(own) {
                *m = m.saturating_add(s);
            }
        }
        (!mix.is_empty()).then_some(mix)
    }
}

async fn echo(mut ctx: JobContext, delay: Duration, announcement: Option<Arc<str>>) -> Result<(), JobError> {
    let sink = ctx.room.audio_sink();
    let texts = ctx.room.text_streams();
    let mut announced: HashSet<String> = HashSet::new();
    let (frames_tx, mut frames_rx) = mpsc::channel::<(String, AudioFrame)>(256);
    let mut lines = DelayLines::new(delay);
    loop {
        let wake = lines.next_due();
        tokio::select! {
            _ = ctx.cancel.cancelled() => {
                ctx.room.leave().await;
                return Ok(());
            }
            event = ctx.room.next_event() => match event {
                None => return Ok(()),
                Some(RoomEvent::TrackSubscribed { identity, mut audio, .. }) => {
                    if let Some(text) = &announcement
                        && announced.insert(identity.clone())
                        && texts.send(TOPIC_CHAT, text, TextStreamOptions::default()).await.is_err()
                    {
                        return Ok(());
                    }
                    let tx = frames_tx.clone();
                    tokio::spawn(async move {
                        while let Some(frame) = audio.recv().await {
                            if tx.send((identity.clone(), frame)).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                Some(RoomEvent::ParticipantLeft { identity }) => lines.remove(&identity),
                Some(RoomEvent::Data(msg)) => {
                    if ctx.room.send_data(msg.topic.as_deref(), msg.payload, Vec::new()).await.is_err() {
                        return Ok(());
                    }
                }
                Some(RoomEvent::Closed(CloseReason::Failed(why))) => return Err(JobError(why)),
                Some(RoomEvent::Closed(reason)) => {
                    tracing::info!(?reason, "room closed; echo job done");
                    return Ok(());
                }
                Some(_) => {}
            },
            Some((who, frame)) = frames_rx.recv() => {
                lines.push(&who, clock::now(), frame.rtp_time, frame.samples);
            }
            _ = sleep_until(wake) => {
                if let Some(mix) = lines.take_due(clock::now())
                    && sink.play(mix).await.is_err()
                {
                    return Ok(());
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn network_jitter_is_absorbed_by_rtp_timing() {
        let t0 = clock::now();
        let mut d = DelayLines::new(ms(500));
        d.push("a", t0, 0, vec![1; 960]);
        // The second frame arrives 35 ms late; it is still due 20 ms after the first.
        d.push("a", t0 + ms(55), 960, vec![2; 960]);
        assert_eq!(d.next_due(), Some(t0 + ms(500)));
        assert_eq!(d.take_due(t0 + ms(500)).unwrap(), vec![1; 960]);
        assert_eq!(d.next_due(), Some(t0 + ms(520)));
        assert!(d.take_due(t0 + ms(519)).is_none());
        assert_eq!(d.take_due(t0 + ms(520)).unwrap(), vec![2; 960]);
        assert_eq!(d.next_due(), None);
    }

    #[test]
    fn a_timestamp_jump_reanchors_and_participants_are_mixed() {
        let t0 = clock::now();
        let mut d = DelayLines::new(ms(500));
        d.push("a", t0, 1000, vec![100; 960]);
        // A new talkspurt 10 s of RTP time later but only 1 s of wall time: re-anchored.
        d.push("a", t0 + ms(1000), 1000 + 480_000, vec![100; 960]);
        d.push("b", t0 + ms(990), 7, vec![i16::MAX; 960]);
        assert_eq!(d.take_due(t0 + ms(500)).unwrap(), vec![100; 960]);
        let mixed = d.take_due(t0 + ms(1500)).unwrap();
        assert_eq!(mixed.len(), 960);
        assert_eq!(mixed[0], i16::MAX, "saturating mix");
    }

    #[test]
    fn a_late_burst_is_concatenated_and_lines_are_bounded() {
        let t0 = clock::now();
        let mut d = DelayLines::new(Duration::ZERO);
        d.push("a", t0, 0, vec![1; 960]);
        d.push("a", t0, 0, vec![2; 960]);
        let out = d.take_due(t0).unwrap();
        assert_eq!(out.len(), 1920);
        assert_eq!((out[0], out[1919]), (1, 2));
        for _ in 0..(MAX_DELAY_FRAMES + 10) {
            d.push("a", t0, 0, vec![0; 10]);
        }
        assert_eq!(d.take_due(t0).unwrap().len(), MAX_DELAY_FRAMES * 10);
        d.push("b", t0, 0, vec![0; 10]);
        d.remove("b");
        assert!(d.take_due(t0).is_none());
    }
}
