//! Speech synthesis, streamed: [`SpeechStream`] yields 48 kHz mono chunks as the vendor's
//! 24 kHz s16le PCM arrives, through the one `GuardedStream`, bounded by
//! `TTS_MAX_AUDIO_SECS`: the audio up to the bound is delivered, then the stream ends with
//! [`Overrun::Audio`] (a breaker failure: one sentence cannot take that long).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::error::{Failure, Overrun, ProviderError};
use super::pcm::{PcmDecoder, Upsampler2x};
use super::stream::{Decode, GuardedStream, Started};
use crate::core::quota::Usage;

/// The provider's sample rate for speech answers (`response_format: pcm`).
pub const PROVIDER_RATE: u32 = 24_000;

/// 24 kHz PCM bytes → 48 kHz samples, at most `max_audio` of them.
pub(crate) struct SpeechDecoder {
    decoder: PcmDecoder,
    upsampler: Upsampler2x,
    scratch: Vec<i16>,
    max_audio: Duration,
    samples_left: u64,
    got_bytes: bool,
    /// The characters spoken: the provider bills a request it answered.
    usage: Usage,
}

impl SpeechDecoder {
    pub fn new(max_audio: Duration, usage: Usage) -> Self {
        Self {
            decoder: PcmDecoder::default(),
            upsampler: Upsampler2x::new(),
            scratch: Vec::new(),
            max_audio,
            samples_left: (max_audio.as_secs_f64() * f64::from(PROVIDER_RATE)) as u64,
            got_bytes: false,
            usage,
        }
    }
}

impl Decode for SpeechDecoder {
    type Item = Vec<i16>;

    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<Vec<i16>>) -> Result<(), Failure> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.got_bytes = true;
        self.scratch.clear();
        self.decoder.decode(bytes, &mut self.scratch);
        let over = self.scratch.len() as u64 > self.samples_left;
        if over {
            // Deliver the audio up to the bound, then end.
            self.scratch.truncate(self.samples_left as usize);
        }
        self.samples_left -= self.scratch.len() as u64;
        if !self.scratch.is_empty() {
            let mut chunk = Vec::with_capacity(self.scratch.len() * 2);
            self.upsampler.process(&self.scratch, &mut chunk);
            out.push_back(chunk);
        }
        if over {
            return Err(Failure::Overrun(Overrun::Audio(self.max_audio)));
        }
        Ok(())
    }

    fn complete(&self) -> bool {
        false
    }

    fn end(&mut self, out: &mut VecDeque<Vec<i16>>) -> Result<(), Failure> {
        if self.decoder.finish().is_err() {
            return Err(Failure::Malformed("odd number of PCM bytes".into()));
        }
        let mut tail = Vec::new();
        self.upsampler.flush(&mut tail);
        if !tail.is_empty() {
            out.push_back(tail);
        }
        Ok(())
    }

    fn started(&self) -> bool {
        self.got_bytes
    }

    fn no_output_is_slow(&self) -> bool {
        true
    }

    fn usage(&self) -> Usage {
        self.usage
    }
}

/// Streamed speech. Dropping it closes the connection at once.
pub struct SpeechStream(GuardedStream<SpeechDecoder>);

impl SpeechStream {
    pub(crate) fn new(started: Started, decoder: SpeechDecoder) -> Self {
        Self(GuardedStream::new(started, decoder))
    }

    /// The endpoint serving this speech.
    pub fn provider(&self) -> &Arc<str> {
        self.0.provider()
    }

    /// Time from the request to the first audio byte.
    pub fn first_byte_latency(&self) -> Option<Duration> {
        self.0.first_latency()
    }

    /// The next chunk of 48 kHz mono samples; `None` when the speech is complete.
    pub async fn next(&mut self) -> Option<Result<Vec<i16>, ProviderError>> {
        self.0.next().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_bounds_audio_and_flushes_the_tail() {
        let mut d = SpeechDecoder::new(Duration::from_millis(10), Usage::default());
        let mut out = VecDeque::new();
        d.feed(&[0u8; 200], &mut out).unwrap();
        assert!(d.started());
        assert!(out.pop_front().is_some_and(|c| !c.is_empty()));
        d.end(&mut out).unwrap();
        let mut over = SpeechDecoder::new(Duration::from_millis(10), Usage::default());
        out.clear();
        over.feed(&[0u8; 400], &mut out).unwrap();
        let err = over.feed(&[0u8; 2000], &mut out).unwrap_err();
        assert_eq!(err, Failure::Overrun(Overrun::Audio(Duration::from_millis(10))), "240 samples allowed");
        let delivered: usize = out.iter().map(Vec::len).sum();
        // The audio up to the bound, at 48 kHz, less what is still inside the filter.
        assert_eq!(delivered, 480 - 2 * crate::providers::pcm::TAPS_PER_SIDE);
        let mut odd = SpeechDecoder::new(Duration::from_secs(1), Usage::default());
        odd.feed(&[0u8; 3], &mut out).unwrap();
        assert!(odd.end(&mut out).is_err());
    }
}
