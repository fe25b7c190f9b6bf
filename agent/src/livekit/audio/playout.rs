//! Real-time pacing of the agent's outgoing audio (sans-IO).
//!
//! Producers (TTS, echo) push PCM faster or slower than real time; the network must see one
//! 20 ms frame every 20 ms, with RTP timestamps that advance with the wall clock. [`Playout`]
//! holds a bounded queue and, polled with `now`, hands out the frames that are due.
//!
//! Timestamps: within a talkspurt they advance by exactly 960 per frame. When the queue runs
//! dry for longer than [`GRACE`], the talkspurt ends; the next one starts with the marker bit
//! and a timestamp advanced by the wall-clock time that passed, as a real microphone would.
//! A producer that is only a little late (jitter below `GRACE`) keeps the talkspurt going.
//!
//! Stop-now: [`Playout::stop`] drops everything queued; [`Playout::played_samples`] counts
//! what actually went out, so an interrupted reply knows how much the user heard. A stop in
//! mid-talkspurt is followed by [`STOP_TAIL`] frames of silence: a receiver whose packets
//! simply stop conceals the loss by stretching the last sound for a good fraction of a
//! second, which the user would hear as the agent not stopping.
//!
//! Pause: [`Playout::set_paused`] holds the queue where it is (a possible barge-in is being
//! heard out). The talkspurt ends like after a stop (silent tail, then nothing); on resume the
//! queue plays on from the next unplayed sample in a new talkspurt.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::opus::{EncodedFrame, FRAME_SAMPLES, FRAME_TICKS, SAMPLE_RATE};

/// Frame duration.
pub const FRAME: Duration = Duration::from_millis(20);
/// How long an empty queue may wait for more audio before the talkspurt ends.
pub const GRACE: Duration = Duration::from_millis(60);
/// Frames of silence sent after a stop in mid-talkspurt.
pub const STOP_TAIL: u32 = 3;
/// If the caller falls this far behind (a starved task), skip ahead instead of bursting.
const MAX_LAG: Duration = Duration::from_millis(100);

/// One frame ready to be encoded and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFrame {
    /// 20 ms of mono 48 kHz PCM (zero-padded if the producer ended mid-frame).
    pub pcm: [i16; FRAME_SAMPLES],
    /// RTP media time of the first sample (48 kHz ticks, not yet wrapped to 32 bits).
    pub rtp_time: u64,
    /// First frame after a silence: sets the RTP marker bit.
    pub start_of_talkspurt: bool,
    /// Already encoded (then `pcm` is silence and unused): send this packet as it is.
    pub encoded: Option<EncodedFrame>,
}

/// The pacing state machine.
#[derive(Debug)]
pub struct Playout {
    queue: VecDeque<i16>,
    /// Pre-encoded frames, played (one per 20 ms) once the PCM queue is empty.
    encoded: VecDeque<EncodedFrame>,
    capacity: usize,
    /// When the next frame is due, while a talkspurt is running.
    next_due: Option<Instant>,
    /// RTP time of the next frame within the talkspurt.
    rtp_time: u64,
    /// Wall time and RTP time where the last talkspurt ended, to continue the clock.
    last_end: Option<(Instant, u64)>,
    played: u64,
    /// Silent frames still to send after a stop.
    tail: u32,
    /// Holding the queue.
    paused: bool,
}

impl Playout {
    /// A playout queue holding at most `capacity` of audio.
    pub fn new(capacity: Duration) -> Self {
        let samples = (capacity.as_secs_f64() * f64::from(SAMPLE_RATE)) as usize;
        Self {
            queue: VecDeque::new(),
            encoded: VecDeque::new(),
            capacity: samples.max(FRAME_SAMPLES),
            next_due: None,
            rtp_time: 0,
            last_end: None,
            played: 0,
            tail: 0,
            paused: false,
        }
    }

    /// Free space in samples; a producer must not push more than this.
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.queued_samples())
    }

    /// Nothing to play now: the queue is empty or held.
    fn is_empty(&self) -> bool {
        self.paused || (self.queue.is_empty() && self.encoded.is_empty())
    }

    /// Holds (`true`) or releases the queue. Holding in mid-talkspurt ends it with the
    /// silent tail of a stop; what is queued stays, and plays on when released.
    pub fn set_paused(&mut self, paused: bool) {
        if paused && !self.paused && self.next_due.is_some() {
            self.tail = STOP_TAIL;
        }
        self.paused = paused;
    }

    /// Whether the queue is held.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Queues PCM; returns how many samples were accepted (all of them if they fit).
    pub fn push(&mut self, pcm: &[i16]) -> usize {
        let n = pcm.len().min(self.free());
        self.queue.extend(&pcm[..n]);
        if n > 0 && !self.paused {
            self.tail = 0;
        }
        n
    }

    /// Queues pre-encoded frames; returns how many were accepted (all if they fit).
    pub fn push_encoded(&mut self, frames: &[EncodedFrame]) -> usize {
        let n = frames.len().min(self.free() / FRAME_SAMPLES);
        self.encoded.extend(frames[..n].iter().cloned());
        if n > 0 && !self.paused {
            self.tail = 0;
        }
        n
    }

    /// Samples waiting to be played.
    pub fn queued_samples(&self) -> usize {
        self.queue.len() + self.encoded.len() * FRAME_SAMPLES
    }

    /// Samples that went out to the network since this playout was created (padding
    /// excluded).
    pub fn played_samples(&self) -> u64 {
        self.played
    }

    /// Drops everything queued (barge-in); returns how many samples were discarded.
    pub fn stop(&mut self) -> usize {
        let n = self.queued_samples();
        self.queue.clear();
        self.encoded.clear();
        if self.next_due.is_some() {
            self.tail = STOP_TAIL;
        }
        n
    }

    /// When [`Playout::poll`] next has something to do, if anything.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        match self.next_due {
            Some(due) if self.is_empty() && self.tail == 0 => Some(due + GRACE),
            Some(due) => Some(due),
            None if self.is_empty() => None,
            None => Some(now),
        }
    }

    /// Returns the next frame if one is due at `now`. Call until it returns `None`.
    pub fn poll(&mut self, now: Instant) -> Option<OutFrame> {
        let start_of_talkspurt = match self.next_due {
            None => {
                if self.is_empty() {
                    return None;
                }
                self.rtp_time = self.resume_time(now);
                self.next_due = Some(now);
                true
            }
            Some(due) => {
                if now < due {
                    return None;
                }
                if self.is_empty() && self.tail > 0 {
                    self.tail -= 1;
                    let frame = OutFrame {
                        pcm: [0; FRAME_SAMPLES],
                        rtp_time: self.rtp_time,
                        start_of_talkspurt: false,
                        encoded: None,
                    };
                    self.rtp_time += FRAME_TICKS;
                    self.next_due = Some(due + FRAME);
                    return Some(frame);
                }
                if self.is_empty() {
                    if now >= due + GRACE {
                        self.last_end = Some((due, self.rtp_time));
                        self.next_due = None;
                    }
                    return None;
                }
                if now > due + MAX_LAG {
                    // Starved: keep the clock honest instead of bursting the backlog.
                    let behind = now.duration_since(due);
                    let frames = (behind.as_nanos() / FRAME.as_nanos()) as u32;
                    self.rtp_time += u64::from(frames) * FRAME_TICKS;
                    self.next_due = Some(due + FRAME * frames);
                }
                false
            }
        };
        let mut pcm = [0i16; FRAME_SAMPLES];
        let encoded = if self.queue.is_empty() { self.encoded.pop_front() } else { None };
        let n = if encoded.is_some() { FRAME_SAMPLES } else { self.queue.len().min(FRAME_SAMPLES) };
        if encoded.is_none() {
            for (dst, src) in pcm.iter_mut().zip(self.queue.drain(..n)) {
                *dst = src;
            }
        }
        self.played += n as u64;
        let frame = OutFrame { pcm, rtp_time: self.rtp_time, start_of_talkspurt, encoded };
        self.rtp_time += FRAME_TICKS;
        self.next_due = self.next_due.map(|d| d + FRAME);
        Some(frame)
    }

    /// RTP time for a talkspurt starting at `now`: the previous end plus the wall time since.
    fn resume_time(&self, now: Instant) -> u64 {
        match self.last_end {
            None => self.rtp_time,
            Some((end, rtp)) => {
                let gap = now.saturating_duration_since(end);
                rtp + (gap.as_secs_f64() * f64::from(SAMPLE_RATE)) as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn paces_one_frame_per_20ms_with_contiguous_timestamps() {
        let t0 = clock::now();
        let mut p = Playout::new(Duration::from_secs(10));
        assert_eq!(p.push(&[1; FRAME_SAMPLES * 3]), FRAME_SAMPLES * 3);
        let f0 = p.poll(t0).unwrap();
        assert!(f0.start_of_talkspurt);
        assert!(p.poll(t0).is_none(), "second frame is not due yet");
        assert_eq!(p.next_deadline(t0), Some(t0 + ms(20)));
        let f1 = p.poll(t0 + ms(20)).unwrap();
        let f2 = p.poll(t0 + ms(41)).unwrap();
        assert!(!f1.start_of_talkspurt && !f2.start_of_talkspurt);
        assert_eq!(f1.rtp_time - f0.rtp_time, 960);
        assert_eq!(f2.rtp_time - f1.rtp_time, 960);
        assert_eq!(p.played_samples(), 3 * 960);
    }

    #[test]
    fn partial_last_frame_is_padded_and_counted_exactly() {
        let t0 = clock::now();
        let mut p = Playout::new(Duration::from_secs(1));
        p.push(&[7; 1000]);
        p.poll(t0).unwrap();
        let f = p.poll(t0 + ms(20)).unwrap();
        assert_eq!(&f.pcm[..40], &[7; 40]);
        assert_eq!(&f.pcm[40..], &[0; 920][..]);
        assert_eq!(p.played_samples(), 1000);
    }

    #[test]
    fn small_jitter_keeps_the_talkspurt_and_a_long_gap_advances_the_clock() {
        let t0 = clock::now();
        let mut p = Playout::new(Duration::from_secs(1));
        p.push(&[1; 960]);
        let a = p.poll(t0).unwrap();
        // Producer is 10 ms late: still the same talkspurt, next timestamp.
        assert!(p.poll(t0 + ms(25)).is_none());
        p.push(&[1; 960]);
        let b = p.poll(t0 + ms(30)).unwrap();
        assert!(!b.start_of_talkspurt);
        assert_eq!(b.rtp_time - a.rtp_time, 960);
        // Now silence for a second: the talkspurt ends after the grace period.
        assert!(p.poll(t0 + ms(40) + GRACE).is_none());
        assert_eq!(p.next_deadline(t0 + ms(200)), None);
        p.push(&[1; 960]);
        let c = p.poll(t0 + ms(1040)).unwrap();
        assert!(c.start_of_talkspurt);
        // The clock advanced by the wall time: (1040 - 40) ms after the end at 40 ms.
        assert_eq!(c.rtp_time - b.rtp_time, 960 + 48_000);
    }

    #[test]
    fn stop_drops_the_queue_and_ends_with_uncounted_silence() {
        let t0 = clock::now();
        let mut p = Playout::new(Duration::from_secs(2));
        p.push(&[3; 48_000]);
        let a = p.poll(t0).unwrap();
        p.poll(t0 + ms(20)).unwrap();
        assert_eq!(p.stop(), 48_000 - 2 * 960);
        for k in 0..STOP_TAIL as u64 {
            let f = p.poll(t0 + ms(40 + 20 * k)).unwrap();
            assert_eq!(f.pcm, [0; FRAME_SAMPLES]);
            assert_eq!(f.rtp_time - a.rtp_time, (2 + k) * 960);
        }
        assert!(p.poll(t0 + ms(40 + 20 * u64::from(STOP_TAIL))).is_none());
        assert_eq!(p.played_samples(), 2 * 960);
        assert_eq!(p.queued_samples(), 0);
    }

    #[test]
    fn new_audio_after_a_stop_replaces_the_silent_tail() {
        let t0 = clock::now();
        let mut p = Playout::new(Duration::from_secs(2));
        p.push(&[3; 4800]);
        p.poll(t0).unwrap();
        p.stop();
        p.push(&[5; 960]);
        let f = p.poll(t0 + ms(20)).unwrap();
        assert_eq!(f.pcm, [5; FRAME_SAMPLES]);
        assert!(!f.start_of_talkspurt);
        assert!(p.poll(t0 + ms(40)).is_none());
    }

    #[test]
    fn a_pause_holds_the_queue_and_a_resume_plays_on_from_there() {
        let t0 = clock::now();
        let mut p = Playout::new(Duration::from_secs(2));
        p.push(&[3; 960 * 10]);
        p.poll(t0).unwrap();
        p.poll(t0 + ms(20)).unwrap();
        p.set_paused(true);
        for k in 0..STOP_TAIL as u64 {
            let f = p.poll(t0 + ms(40 + 20 * k)).unwrap();
            assert_eq!(f.pcm, [0; FRAME_SAMPLES], "silence, not the queue");
        }
        // More audio while held is queued, not played.
        p.push(&[4; 960]);
        assert!(p.poll(t0 + ms(200)).is_none());
        assert_eq!(p.next_deadline(t0 + ms(300)), None, "the talkspurt ended");
        assert_eq!((p.played_samples(), p.queued_samples()), (2 * 960, 9 * 960));
        p.set_paused(false);
        let f = p.poll(t0 + ms(1000)).unwrap();
        assert!(f.start_of_talkspurt);
        assert_eq!(f.pcm, [3; FRAME_SAMPLES], "the next unplayed frame");
        assert_eq!(p.played_samples(), 3 * 960);
    }

    #[test]
    fn queue_is_bounded() {
        let mut p = Playout::new(ms(100));
        assert_eq!(p.push(&[0; 10_000]), 4800);
        assert_eq!(p.free(), 0);
        assert_eq!(p.push(&[0; 10]), 0);
    }

    #[test]
    fn a_starved_caller_skips_ahead_instead_of_bursting() {
        let t0 = clock::now();
        let mut p = Playout::new(Duration::from_secs(5));
        p.push(&[1; 960 * 50]);
        let a = p.poll(t0).unwrap();
        // The task was stalled for half a second.
        let b = p.poll(t0 + ms(520)).unwrap();
        assert_eq!(b.rtp_time - a.rtp_time, 26 * 960);
        assert!(p.poll(t0 + ms(521)).is_none(), "no burst after the skip");
        assert!(p.poll(t0 + ms(540)).is_some());
    }

    #[test]
    fn encoded_frames_are_paced_counted_bounded_and_stopped_like_pcm() {
        let t0 = clock::now();
        let mut p = Playout::new(ms(100));
        let frame = |b: u8| EncodedFrame { packet: vec![b; 3].into(), dbov: 20 };
        let frames: Vec<_> = (0..8).map(frame).collect();
        // 100 ms holds five frames.
        assert_eq!(p.push_encoded(&frames), 5);
        assert_eq!(p.queued_samples(), 5 * 960);
        let a = p.poll(t0).unwrap();
        assert!(a.start_of_talkspurt);
        assert_eq!(a.encoded, Some(frame(0)));
        assert!(p.poll(t0 + ms(10)).is_none(), "paced");
        let b = p.poll(t0 + ms(20)).unwrap();
        assert_eq!((b.rtp_time - a.rtp_time, b.encoded), (960, Some(frame(1))));
        assert_eq!(p.played_samples(), 2 * 960);
        assert_eq!(p.stop(), 3 * 960);
        // The stop tail is silence to encode, not a stale packet.
        assert_eq!(p.poll(t0 + ms(40)).unwrap().encoded, None);
    }
}
