//! Opus encoding and decoding through Debian's libopus (crate `audiopus`).
//!
//! LiveKit carries audio as Opus at 48 kHz. We always work in mono 20 ms frames (960 samples):
//! the SDP says `opus/48000/2`, but a mono decoder folds stereo packets down, and a mono
//! encoder's packets are valid for a stereo receiver.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Bitrate, Channels, MutSignals, SampleRate};

/// Sample rate of all PCM in the LiveKit layer.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame.
pub const FRAME_SAMPLES: usize = 960;
/// RTP timestamp units per frame (the Opus RTP clock is 48 kHz).
pub const FRAME_TICKS: u64 = FRAME_SAMPLES as u64;
/// Opus never produces more than 120 ms per packet: 5760 samples at 48 kHz.
const MAX_DECODED: usize = 5760;
/// RFC 6716 recommends 1275 bytes as the largest packet for one frame; we never get near it.
const MAX_PACKET: usize = 1500;

/// A libopus call failed.
#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    /// libopus refused to create or configure a codec.
    #[error("opus setup failed: {0}")]
    Setup(audiopus::Error),
    /// The encoder rejected a frame.
    #[error("opus encode failed: {0}")]
    Encode(audiopus::Error),
    /// The decoder could not decode a packet (corrupt or not Opus).
    #[error("opus decode failed: {0}")]
    Decode(audiopus::Error),
}

/// Encoder settings for the agent's published track.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSettings {
    /// Target bitrate in bit/s.
    pub bitrate: i32,
    /// Expected packet loss in percent; a non-zero value makes libopus actually spend bits on
    /// in-band FEC.
    pub expected_loss_percent: u8,
}

impl Default for EncoderSettings {
    /// 32 kbit/s mono voice with FEC tuned for 5 % loss: transparent speech for an agent voice
    /// at a fraction of a video call's bandwidth.
    fn default() -> Self {
        Self { bitrate: 32_000, expected_loss_percent: 5 }
    }
}

/// Mono 48 kHz Opus encoder producing one packet per 20 ms frame, with in-band FEC.
pub struct OpusEncoder {
    inner: Encoder,
    out: Vec<u8>,
}

impl OpusEncoder {
    /// Creates an encoder tuned for speech.
    pub fn new(settings: EncoderSettings) -> Result<Self, OpusError> {
        let mut inner =
            Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Voip).map_err(OpusError::Setup)?;
        inner.set_bitrate(Bitrate::BitsPerSecond(settings.bitrate)).map_err(OpusError::Setup)?;
        inner.set_inband_fec(true).map_err(OpusError::Setup)?;
        inner.set_packet_loss_perc(settings.expected_loss_percent).map_err(OpusError::Setup)?;
        // We stop sending during silence ourselves; DTX inside the codec would only confuse
        // the RTP timestamps the pacer keeps.
        inner.set_dtx(false).map_err(OpusError::Setup)?;
        Ok(Self { inner, out: vec![0; MAX_PACKET] })
    }

    /// Encodes one 20 ms frame; the returned slice is valid until the next call.
    pub fn encode(&mut self, frame: &[i16; FRAME_SAMPLES]) -> Result<&[u8], OpusError> {
        let n = self.inner.encode(frame, &mut self.out).map_err(OpusError::Encode)?;
        Ok(&self.out[..n])
    }
}

/// One 20 ms frame encoded ahead of time, with its audio level for the RTP header: audio
/// that is played many times (a recorded prompt, a load generator's questions) is encoded
/// once and sent with [`crate::livekit::room::AudioSink::play_opus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The Opus packet.
    pub packet: std::sync::Arc<[u8]>,
    /// Its level in dBov (0 full scale, −127 silence).
    pub dbov: i8,
}

impl EncodedFrame {
    /// Encodes mono 48 kHz `pcm` into 20 ms frames (the last one zero-padded).
    ///
    /// ```
    /// use voice_agent::livekit::audio::opus::{EncodedFrame, EncoderSettings};
    /// let second = vec![0i16; 48_000];
    /// let frames = EncodedFrame::encode_all(&second, EncoderSettings::default()).unwrap();
    /// assert_eq!(frames.len(), 50);
    /// ```
    pub fn encode_all(pcm: &[i16], settings: EncoderSettings) -> Result<Vec<Self>, OpusError> {
        let mut enc = OpusEncoder::new(settings)?;
        let mut out = Vec::with_capacity(pcm.len().div_ceil(FRAME_SAMPLES));
        for chunk in pcm.chunks(FRAME_SAMPLES) {
            let mut frame = [0i16; FRAME_SAMPLES];
            frame[..chunk.len()].copy_from_slice(chunk);
            let dbov = super::level::dbov(&frame);
            out.push(Self { packet: enc.encode(&frame)?.into(), dbov });
        }
        Ok(out)
    }
}

/// Mono 48 kHz Opus decoder for one remote track.
pub struct OpusDecoder {
    inner: Decoder,
    out: Vec<i16>,
}

impl OpusDecoder {
    /// Creates a decoder.
    pub fn new() -> Result<Self, OpusError> {
        let inner = Decoder::new(SampleRate::Hz48000, Channels::Mono).map_err(OpusError::Setup)?;
        Ok(Self { inner, out: vec![0; MAX_DECODED] })
    }

    /// Decodes one packet to PCM; the slice is valid until the next call.
    pub fn decode(&mut self, packet: &[u8]) -> Result<&[i16], OpusError> {
        let packet = Packet::try_from(packet).map_err(OpusError::Decode)?;
        let out = MutSignals::try_from(&mut self.out[..]).map_err(OpusError::Decode)?;
        let n = self.inner.decode(Some(packet), out, false).map_err(OpusError::Decode)?;
        Ok(&self.out[..n.min(MAX_DECODED)])
    }

    /// Recovers the frame *before* `next_packet` from its in-band FEC data (or conceals it
    /// when there is none), for a single lost packet.
    pub fn recover(&mut self, next_packet: &[u8]) -> Result<&[i16], OpusError> {
        let packet = Packet::try_from(next_packet).map_err(OpusError::Decode)?;
        let out = MutSignals::try_from(&mut self.out[..FRAME_SAMPLES]).map_err(OpusError::Decode)?;
        let n = self.inner.decode(Some(packet), out, true).map_err(OpusError::Decode)?;
        Ok(&self.out[..n.min(FRAME_SAMPLES)])
    }

    /// Conceals one lost 20 ms frame (packet-loss concealment).
    pub fn conceal(&mut self) -> Result<&[i16], OpusError> {
        let out = MutSignals::try_from(&mut self.out[..FRAME_SAMPLES]).map_err(OpusError::Decode)?;
        let n = self.inner.decode(None, out, false).map_err(OpusError::Decode)?;
        Ok(&self.out[..n.min(FRAME_SAMPLES)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, frame_index: usize) -> [i16; FRAME_SAMPLES] {
        let mut f = [0i16; FRAME_SAMPLES];
        for (i, s) in f.iter_mut().enumerate() {
            let t = (frame_index * FRAME_SAMPLES + i) as f64 / f64::from(SAMPLE_RATE);
            *s = (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
        }
        f
    }

    #[test]
    fn round_trip_keeps_a_tone() {
        let mut enc = OpusEncoder::new(EncoderSettings::default()).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut energy_in = 0.0;
        let mut energy_out = 0.0;
        for k in 0..50 {
            let frame = tone(440.0, k);
            let packet = enc.encode(&frame).unwrap().to_vec();
            assert!(!packet.is_empty() && packet.len() < 400, "packet size {}", packet.len());
            let pcm = dec.decode(&packet).unwrap();
            assert_eq!(pcm.len(), FRAME_SAMPLES);
            if k >= 10 {
                energy_in += frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
                energy_out += pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            }
        }
        let ratio_db = 10.0 * (energy_out / energy_in).log10();
        assert!(ratio_db.abs() < 2.0, "level changed by {ratio_db:.1} dB");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut dec = OpusDecoder::new().unwrap();
        // A TOC byte announcing code 3 (arbitrary frame count) with a truncated count byte.
        assert!(dec.decode(&[0xFF]).is_err());
        assert!(dec.decode(&[]).is_err());
        assert_eq!(dec.conceal().unwrap().len(), FRAME_SAMPLES);
    }

    #[test]
    fn fec_recovers_a_lost_frame() {
        let mut enc = OpusEncoder::new(EncoderSettings::default()).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let packets: Vec<Vec<u8>> = (0..20).map(|k| enc.encode(&tone(300.0, k)).unwrap().to_vec()).collect();
        for p in &packets[..10] {
            dec.decode(p).unwrap();
        }
        // Packet 10 is lost; packet 11 carries its FEC copy.
        let recovered = dec.recover(&packets[11]).unwrap();
        assert_eq!(recovered.len(), FRAME_SAMPLES);
        assert!(recovered.iter().any(|&s| s.unsigned_abs() > 1000), "recovered frame is silent");
    }
}
