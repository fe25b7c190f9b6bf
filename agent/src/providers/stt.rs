//! Transcription input: the utterance as a 16 kHz mono WAV (written with `hound`), which
//! every vendor's transcription adapter sends in its own way.

use std::io::Cursor;

/// The input sample rate.
pub const STT_RATE: u32 = 16_000;

/// `pcm` as a 16-bit mono WAV file.
pub fn wav_bytes(pcm: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: STT_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + pcm.len() * 2));
    // Writing to memory cannot fail for want of space; the only errors are for sizes beyond 4 GiB.
    if let Ok(mut w) = hound::WavWriter::new(&mut cursor, spec) {
        let mut i16w = w.get_i16_writer(pcm.len() as u32);
        for &s in pcm {
            i16w.write_sample(s);
        }
        let _ = i16w.flush();
        let _ = w.finalize();
    }
    cursor.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trips_through_hound() {
        let pcm: Vec<i16> = (0..1600).map(|i| (i * 7) as i16).collect();
        let bytes = wav_bytes(&pcm);
        let r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.spec().sample_rate, 16_000);
        let back: Vec<i16> = r.into_samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(back, pcm);
    }
}
