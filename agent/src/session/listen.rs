//! One participant's microphone through the VAD: decoded 48 kHz frames in, speech start and
//! end (with their real times) out to the session loop.
//!
//! The VAD decides an utterance has ended only after its silence wait, and that speech
//! started only after its minimum speech; the real moments are earlier. Both are recovered
//! from sample positions: the stream position (16 kHz samples fed so far) is "now" when a
//! frame has been pushed, so an event at position `p` happened `(fed − p) / 16 kHz` before.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::Event;
use crate::clock;
use crate::livekit::room::AudioStream;
use crate::vad::{AudioFrame, BatchedStream, Samples, SegmentEvent};

/// VAD rate.
const RATE: u64 = 16_000;

/// Runs until the track ends or the session goes away.
pub async fn listen(
    who: Arc<str>,
    mut audio: AudioStream,
    mut vad: BatchedStream,
    events: mpsc::Sender<Event>,
) {
    let mut fed: u64 = 0;
    let mut out = Vec::new();
    while let Some(frame) = audio.recv().await {
        let arrived = clock::now();
        let pushed = vad
            .push(
                AudioFrame { samples: Samples::I16(&frame.samples), sample_rate: 48_000, channels: 1 },
                &mut out,
            )
            .await;
        if let Err(e) = pushed {
            // A refused frame is skipped; a stopped service ends listening (readiness shows it).
            tracing::warn!(participant = %who, error = %e, "VAD refused audio");
            if matches!(e, crate::vad::VadError::ServiceStopped) {
                break;
            }
            continue;
        }
        fed += frame.samples.len() as u64 / 3;
        if forward(&who, &mut out, fed, arrived, &events).await.is_err() {
            return;
        }
    }
    let _ = vad.finish(&mut out).await;
    let _ = forward(&who, &mut out, fed, clock::now(), &events).await;
}

/// The moment of stream position `pos`, given that position `fed` is `now`.
fn at(pos: u64, fed: u64, now: Instant) -> Instant {
    let ago = Duration::from_micros(fed.saturating_sub(pos) * 1_000_000 / RATE);
    now.checked_sub(ago).unwrap_or(now)
}

async fn forward(
    who: &Arc<str>,
    out: &mut Vec<SegmentEvent>,
    fed: u64,
    now: Instant,
    events: &mpsc::Sender<Event>,
) -> Result<(), mpsc::error::SendError<Event>> {
    for ev in out.drain(..) {
        let event = match ev {
            SegmentEvent::SpeechStarted { start, .. } => {
                Event::SpeechStarted { who: who.clone(), start: at(start, fed, now) }
            }
            SegmentEvent::SpeechEnded(u) => {
                Event::SpeechEnded { who: who.clone(), end: at(u.end, fed, now), pcm: u.pcm }
            }
            SegmentEvent::Window { .. } => continue,
        };
        events.send(event).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_map_back_to_their_moment() {
        let now = clock::now();
        assert_eq!(at(16_000, 16_000, now), now);
        assert_eq!(at(8_000, 16_000, now), now - Duration::from_millis(500));
        assert_eq!(at(20_000, 16_000, now), now, "a position ahead of the feed is now");
    }
}
