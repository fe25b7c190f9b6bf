//! Pre-connect audio: what the user said before the agent was in the room.
//!
//! Front ends can record the microphone while the agent is still being dispatched and send the
//! recording, once the agent is present, as a byte stream on `lk.agent.pre-connect-audio-buffer`
//! with the attributes `trackId` (the microphone track it precedes), `sampleRate` and
//! `channels`. The browser SDK records with `MediaRecorder` (`audio/webm;codecs=opus`); the
//! mobile SDKs send raw 16-bit little-endian PCM. [`PreConnectAudio::decode`] turns either into
//! 48 kHz mono PCM, ready to go in front of the track's live audio; other containers (MP4 from
//! Safari) are refused with a clear error.

use std::collections::HashMap;
use std::time::Instant;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::livekit::audio::opus::OpusDecoder;

/// The recording's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Raw signed 16-bit little-endian PCM, interleaved.
    Pcm16,
    /// Opus packets in a WebM (Matroska) container.
    WebmOpus,
}

/// A pre-connect recording as received (decode it off the room's loop).
#[derive(Debug, Clone)]
pub struct PreConnectAudio {
    /// Who recorded it.
    pub from: String,
    /// The microphone track it belongs in front of.
    pub track_sid: String,
    /// Its encoding.
    pub encoding: Encoding,
    /// Sample rate the sender gave.
    pub sample_rate: u32,
    /// Channels the sender gave (1 or 2).
    pub channels: u16,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// When it arrived complete (its age bounds whether it is still used).
    pub received_at: Instant,
}

/// A recording that cannot be used; the text says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreConnectError {
    /// A required attribute is missing or not a number.
    #[error("pre-connect audio without a valid `{0}` attribute")]
    Attribute(&'static str),
    /// Not a format we decode.
    #[error("pre-connect audio in {0:?} cannot be decoded (raw PCM or WebM/Opus only)")]
    Unsupported(String),
    /// The container is malformed.
    #[error("malformed WebM in pre-connect audio: {0}")]
    Container(&'static str),
    /// The audio cannot be decoded or resampled.
    #[error("pre-connect audio cannot be decoded: {0}")]
    Audio(String),
}

impl PreConnectAudio {
    /// Checks a received byte stream's attributes and format (not yet its content).
    pub fn new(
        from: String,
        mime_type: &str,
        attributes: &HashMap<String, String>,
        bytes: Vec<u8>,
        received_at: Instant,
    ) -> Result<Self, PreConnectError> {
        let number = |key: &'static str| -> Result<u32, PreConnectError> {
            attributes.get(key).and_then(|v| v.trim().parse().ok()).ok_or(PreConnectError::Attribute(key))
        };
        let track_sid = attributes
            .get("trackId")
            .filter(|t| !t.is_empty())
            .cloned()
            .ok_or(PreConnectError::Attribute("trackId"))?;
        let sample_rate = number("sampleRate")?;
        let channels = u16::try_from(number("channels")?)
            .ok()
            .filter(|c| (1..=2).contains(c))
            .ok_or(PreConnectError::Attribute("channels"))?;
        let mime = mime_type.to_ascii_lowercase();
        let encoding = if bytes.starts_with(&webm::EBML_MAGIC) || mime.contains("webm") {
            Encoding::WebmOpus
        } else if mime.is_empty()
            || mime.contains("pcm")
            || mime.contains("l16")
            || mime == "application/octet-stream"
        {
            Encoding::Pcm16
        } else {
            return Err(PreConnectError::Unsupported(mime_type.to_owned()));
        };
        Ok(Self { from, track_sid, encoding, sample_rate, channels, bytes, received_at })
    }

    /// The recording as 48 kHz mono PCM.
    pub fn decode(&self) -> Result<Vec<i16>, PreConnectError> {
        match self.encoding {
            Encoding::WebmOpus => {
                let mut decoder = OpusDecoder::new().map_err(|e| PreConnectError::Audio(e.to_string()))?;
                let mut pcm = Vec::new();
                for packet in webm::opus_packets(&self.bytes)? {
                    match decoder.decode(packet) {
                        Ok(samples) => pcm.extend_from_slice(samples),
                        Err(e) => tracing::debug!(error = %e, "pre-connect opus packet skipped"),
                    }
                }
                Ok(pcm)
            }
            Encoding::Pcm16 => {
                let channels = usize::from(self.channels);
                let mono: Vec<f32> = self
                    .bytes
                    .chunks_exact(2 * channels)
                    .map(|frame| {
                        let sum: f32 =
                            frame.chunks_exact(2).map(|s| f32::from(i16::from_le_bytes([s[0], s[1]]))).sum();
                        sum / channels as f32
                    })
                    .collect();
                to_48k(&mono, self.sample_rate)
            }
        }
    }
}

/// Resamples mono PCM (full scale ±32768) to 48 kHz.
fn to_48k(mono: &[f32], rate: u32) -> Result<Vec<i16>, PreConnectError> {
    const OUT: usize = 48_000;
    let clamp = |x: f32| x.round().clamp(-32768.0, 32767.0) as i16;
    if rate as usize == OUT {
        return Ok(mono.iter().map(|&x| clamp(x)).collect());
    }
    if !(8_000..=192_000).contains(&rate) || !rate.is_multiple_of(50) {
        return Err(PreConnectError::Audio(format!("unsupported sample rate {rate} Hz")));
    }
    let chunk = (rate / 50) as usize;
    let mut fft = Fft::<f32>::new(rate as usize, OUT, chunk, 1, FixedSync::Input)
        .map_err(|e| PreConnectError::Audio(e.to_string()))?;
    let mut skip = fft.output_delay();
    let wanted = mono.len() * OUT / rate as usize;
    let mut out = Vec::with_capacity(wanted + OUT / 10);
    let mut buf_out = vec![0.0f32; fft.output_frames_max()];
    let mut block = vec![0.0f32; chunk];
    // Feed whole chunks, then zeros to flush the filter's delay.
    let mut pos = 0;
    while out.len() < wanted {
        block.fill(0.0);
        let n = mono.len().saturating_sub(pos).min(chunk);
        block[..n].copy_from_slice(&mono[pos..pos + n]);
        pos += n;
        let frames_out = buf_out.len();
        let (Ok(input), Ok(mut output)) = (
            InterleavedSlice::new(&block[..], 1, chunk),
            InterleavedSlice::new_mut(&mut buf_out[..], 1, frames_out),
        ) else {
            return Err(PreConnectError::Audio("resampler buffers".into()));
        };
        let (_, written) = fft
            .process_into_buffer(&input, &mut output, None)
            .map_err(|e| PreConnectError::Audio(e.to_string()))?;
        let drop = skip.min(written);
        skip -= drop;
        out.extend(buf_out[drop..written].iter().map(|&x| clamp(x)));
        if n == 0 && written == 0 {
            break;
        }
    }
    out.truncate(wanted);
    Ok(out)
}

/// Just enough Matroska/WebM to take Opus packets out of a `MediaRecorder` recording.
///
/// A recording is an EBML header and a Segment of Clusters, written live: the Segment and
/// Cluster sizes are usually "unknown". The scan walks elements in order and steps *into*
/// Segment, Cluster and BlockGroup (so unknown sizes need no special care) and over everything
/// else; each SimpleBlock or Block of the first audio track holds one Opus packet.
pub mod webm {
    use super::PreConnectError;

    /// The first four bytes of every EBML document.
    pub const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

    const SEGMENT: u32 = 0x1853_8067;
    const CLUSTER: u32 = 0x1F43_B675;
    const BLOCK_GROUP: u32 = 0xA0;
    const BLOCK: u32 = 0xA1;
    const SIMPLE_BLOCK: u32 = 0xA3;
    const TRACKS: u32 = 0x1654_AE6B;
    const TRACK_ENTRY: u32 = 0xAE;
    const TRACK_NUMBER: u32 = 0xD7;
    const CODEC_ID: u32 = 0x86;

    /// A variable-length integer: (value, length). `marker` keeps the length bits (IDs).
    fn vint(data: &[u8], marker: bool) -> Option<(u64, usize)> {
        let first = *data.first()?;
        let len = first.leading_zeros() as usize + 1;
        if len > 8 || data.len() < len {
            return None;
        }
        let mut value = if marker { u64::from(first) } else { u64::from(first) & (0xFF >> len) };
        for &b in &data[1..len] {
            value = (value << 8) | u64::from(b);
        }
        Some((value, len))
    }

    /// One element header: (id, content size — `None` if unknown, header length).
    fn element(data: &[u8]) -> Option<(u32, Option<usize>, usize)> {
        let (id, id_len) = vint(data, true)?;
        let (size, size_len) = vint(&data[id_len..], false)?;
        let unknown = size == (1u64 << (7 * size_len)) - 1;
        let size = if unknown { None } else { Some(usize::try_from(size).ok()?) };
        Some((u32::try_from(id).ok()?, size, id_len + size_len))
    }

    /// The Opus packets of the recording's Opus track (the first track if none says Opus).
    pub fn opus_packets(data: &[u8]) -> Result<Vec<&[u8]>, PreConnectError> {
        if !data.starts_with(&EBML_MAGIC) {
            return Err(PreConnectError::Container("no EBML header"));
        }
        let mut packets = Vec::new();
        let mut opus_track: Option<u64> = None;
        let mut pos = 0;
        while pos < data.len() {
            let Some((id, size, header)) = element(&data[pos..]) else {
                // A recording cut mid-element (the sender stopped): keep what came before.
                break;
            };
            let body = pos + header;
            match (id, size) {
                (SEGMENT | CLUSTER | BLOCK_GROUP, _) => pos = body,
                (TRACKS | TRACK_ENTRY, Some(_)) => pos = body,
                (TRACK_NUMBER, Some(n)) if body + n <= data.len() => {
                    let number = data[body..body + n].iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
                    let codec = codec_after(&data[body + n..]);
                    if codec == Some(b"A_OPUS".as_slice()) || opus_track.is_none() {
                        opus_track = Some(number);
                    }
                    pos = body + n;
                }
                (SIMPLE_BLOCK | BLOCK, Some(n)) if body + n <= data.len() => {
                    let block = &data[body..body + n];
                    let (track, len) = vint(block, false).ok_or(PreConnectError::Container("block track"))?;
                    // Track number, 16-bit timecode, flags; no lacing from MediaRecorder.
                    let Some(&flags) = block.get(len + 2) else {
                        return Err(PreConnectError::Container("short block"));
                    };
                    if flags & 0x06 != 0 {
                        return Err(PreConnectError::Container("laced blocks are not supported"));
                    }
                    if opus_track.is_none_or(|t| t == track) {
                        packets.push(&block[len + 3..]);
                    }
                    pos = body + n;
                }
                (_, Some(n)) => pos = body.saturating_add(n),
                (_, None) => return Err(PreConnectError::Container("unknown size of a leaf element")),
            }
        }
        Ok(packets)
    }

    /// The CodecID among the elements that follow a TrackNumber in its TrackEntry, if near.
    fn codec_after(data: &[u8]) -> Option<&[u8]> {
        let mut pos = 0;
        for _ in 0..16 {
            let (id, size, header) = element(data.get(pos..)?)?;
            let size = size?;
            if id == CODEC_ID {
                return data.get(pos + header..pos + header + size);
            }
            if id == TRACK_ENTRY || id == CLUSTER {
                return None;
            }
            pos += header + size;
        }
        None
    }
}

#[cfg(test)]
#[path = "preconnect_tests.rs"]
mod tests;
