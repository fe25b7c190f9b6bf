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
use crate::vad::{BatchedStream, InputFrame, Samples, SegmentEvent};

/// VAD rate.
const RATE: u64 = 16_000;
/// Samples per 20 ms frame at 48 kHz.
const FRAME: usize = 960;
/// Longest RTP gap filled with silence (2 s): longer ones are a new talkspurt after a pause
/// that the VAD has long since closed, or a sender clock jump.
const MAX_GAP: u64 = 96_000;
/// With no packet at all for this long, this much silence is fed. Senders with DTX send one
/// packet every 400 ms during silence: waiting for it would let the VAD see the end of speech
/// up to 400 ms late (measured: 200 ms on the client-heard latency). Jitter beyond this only
/// inserts a short silence, far below the VAD's silence wait.
const STALL: Duration = Duration::from_millis(100);

/// Runs until the track ends or the session goes away.
///
/// Senders with DTX (browsers, the LiveKit SDKs) stop sending during silence, or send one
/// comfort-noise packet every 400 ms. The VAD only counts the silence it is fed, so the gaps
/// are filled with zeros from the RTP timestamps, and a stalled track is fed silence — or
/// the end of an utterance would wait for the next word.
pub async fn listen(
    who: Arc<str>,
    mut audio: AudioStream,
    mut vad: BatchedStream,
    events: mpsc::Sender<Event>,
) {
    let mut fed: u64 = 0;
    let mut out = Vec::new();
    // RTP time (48 kHz) the next frame should carry.
    let mut expected: Option<u64> = None;
    let silence = [0i16; FRAME];
    loop {
        let frame = match tokio::time::timeout(STALL, audio.recv()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                let Some(e) = expected else { continue };
                let n = (STALL.as_millis() as usize / 20).max(1);
                for _ in 0..n {
                    if !feed(&who, &mut vad, &silence, &mut out, &mut fed, &events).await {
                        return;
                    }
                }
                expected = Some(e + (n * FRAME) as u64);
                continue;
            }
        };
        if let Some(e) = expected
            && frame.rtp_time > e
        {
            let gap = (frame.rtp_time - e).min(MAX_GAP) as usize;
            for _ in 0..gap / FRAME {
                if !feed(&who, &mut vad, &silence, &mut out, &mut fed, &events).await {
                    return;
                }
            }
        }
        let end = frame.rtp_time + frame.samples.len() as u64;
        // Far behind what was expected: the sender's timeline restarted (a reconnect).
        expected = Some(match expected {
            Some(e) if e <= end + MAX_GAP => e.max(end),
            _ => end,
        });
        if !feed(&who, &mut vad, &frame.samples, &mut out, &mut fed, &events).await {
            return;
        }
    }
    let _ = vad.finish(&mut out).await;
    let _ = forward(&who, &mut out, fed, clock::now(), &events).await;
}

/// Pushes 48 kHz mono samples through the VAD and forwards its events; `false` when the
/// session is gone or the VAD has stopped.
async fn feed(
    who: &Arc<str>,
    vad: &mut BatchedStream,
    samples: &[i16],
    out: &mut Vec<SegmentEvent>,
    fed: &mut u64,
    events: &mpsc::Sender<Event>,
) -> bool {
    let arrived = clock::now();
    let pushed =
        vad.push(InputFrame { samples: Samples::I16(samples), sample_rate: 48_000, channels: 1 }, out).await;
    if let Err(e) = pushed {
        // A refused frame is skipped; a stopped service ends listening (readiness shows it).
        tracing::warn!(participant = %who, error = %e, "VAD refused audio");
        return !matches!(e, crate::vad::VadError::ServiceStopped);
    }
    *fed += samples.len() as u64 / 3;
    forward(who, out, *fed, arrived, events).await.is_ok()
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
