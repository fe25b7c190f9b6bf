//! One remote track's decoding: Opus packets in arrival order → PCM frames, with losses
//! bridged (sans-IO).
//!
//! str0m hands us packets in sequence order with the sequence numbers they carried. A gap of
//! one packet is recovered from the next packet's in-band FEC; longer gaps (up to
//! [`MAX_BRIDGED`]) are concealed first. Longer outages are not filled: the stream resumes,
//! and the consumer sees the jump in `rtp_time`. Late duplicates are dropped.

use super::opus::{FRAME_TICKS, OpusDecoder, OpusError};

/// Longest gap, in packets, that is filled with concealment and FEC.
pub const MAX_BRIDGED: u64 = 5;

/// Decoded remote audio: mono 48 kHz PCM, normally 20 ms (960 samples).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// PCM samples.
    pub samples: Vec<i16>,
    /// RTP time of the first sample (48 kHz ticks, extended past 32-bit wrap).
    pub rtp_time: u64,
    /// True for a frame reconstructed after packet loss (FEC or concealment).
    pub recovered: bool,
}

/// Decoder state of one track.
pub struct TrackDecoder {
    decoder: OpusDecoder,
    last_seq: Option<u64>,
}

impl TrackDecoder {
    /// A decoder for a new track.
    pub fn new() -> Result<Self, OpusError> {
        Ok(Self { decoder: OpusDecoder::new()?, last_seq: None })
    }

    /// Decodes the packet with sequence numbers `seq` (first..=last, one for audio) and RTP
    /// time `rtp_time`. Returns the frames to deliver, in order; an undecodable packet yields
    /// the error (after any recovered frames before it).
    pub fn push(
        &mut self,
        seq: (u64, u64),
        rtp_time: u64,
        payload: &[u8],
    ) -> (Vec<AudioFrame>, Option<OpusError>) {
        let gap = match self.last_seq {
            Some(last) if seq.0 <= last => return (Vec::new(), None),
            Some(last) => seq.0 - last - 1,
            None => 0,
        };
        self.last_seq = Some(seq.1.max(seq.0));
        let mut frames = Vec::new();
        if (1..=MAX_BRIDGED).contains(&gap) {
            for k in (2..=gap).rev() {
                if let Ok(pcm) = self.decoder.conceal() {
                    frames.push(recovered(pcm, rtp_time.saturating_sub(k * FRAME_TICKS)));
                }
            }
            if let Ok(pcm) = self.decoder.recover(payload) {
                frames.push(recovered(pcm, rtp_time.saturating_sub(FRAME_TICKS)));
            }
        }
        match self.decoder.decode(payload) {
            Ok(pcm) => {
                frames.push(AudioFrame { samples: pcm.to_vec(), rtp_time, recovered: false });
                (frames, None)
            }
            Err(e) => (frames, Some(e)),
        }
    }
}

fn recovered(pcm: &[i16], rtp_time: u64) -> AudioFrame {
    AudioFrame { samples: pcm.to_vec(), rtp_time, recovered: true }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::livekit::audio::opus::{EncoderSettings, FRAME_SAMPLES, OpusEncoder};

    fn packets(n: usize) -> Vec<Vec<u8>> {
        let mut enc = OpusEncoder::new(EncoderSettings::default()).unwrap();
        (0..n)
            .map(|k| {
                let mut f = [0i16; FRAME_SAMPLES];
                for (i, s) in f.iter_mut().enumerate() {
                    *s = (5000.0 * ((k * FRAME_SAMPLES + i) as f64 * 0.05).sin()) as i16;
                }
                enc.encode(&f).unwrap().to_vec()
            })
            .collect()
    }

    #[test]
    fn in_order_packets_give_one_frame_each() {
        let p = packets(3);
        let mut d = TrackDecoder::new().unwrap();
        for (i, pkt) in p.iter().enumerate() {
            let (frames, err) = d.push((i as u64, i as u64), i as u64 * 960, pkt);
            assert!(err.is_none());
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].samples.len(), FRAME_SAMPLES);
            assert!(!frames[0].recovered);
        }
    }

    #[test]
    fn gaps_are_bridged_with_timestamps_and_long_outages_are_not() {
        let p = packets(20);
        let mut d = TrackDecoder::new().unwrap();
        d.push((0, 0), 0, &p[0]);
        // Packets 1..=3 lost: two concealed, one recovered by FEC, then packet 4 itself.
        let (frames, _) = d.push((4, 4), 4 * 960, &p[4]);
        let times: Vec<(u64, bool)> = frames.iter().map(|f| (f.rtp_time, f.recovered)).collect();
        assert_eq!(times, vec![(960, true), (1920, true), (2880, true), (3840, false)]);
        // Ten packets lost: nothing invented, the stream just resumes.
        let (frames, _) = d.push((15, 15), 15 * 960, &p[15]);
        assert_eq!(frames.len(), 1);
    }

    #[test]
    fn duplicates_are_dropped_and_garbage_is_reported() {
        let p = packets(2);
        let mut d = TrackDecoder::new().unwrap();
        d.push((7, 7), 0, &p[0]);
        assert!(d.push((7, 7), 0, &p[0]).0.is_empty());
        assert!(d.push((3, 3), 0, &p[0]).0.is_empty());
        let (frames, err) = d.push((8, 8), 960, &[0xff]);
        assert!(frames.is_empty());
        assert!(err.is_some());
        // The decoder still works afterwards.
        assert_eq!(d.push((9, 9), 1920, &p[1]).0.len(), 1);
    }
}
