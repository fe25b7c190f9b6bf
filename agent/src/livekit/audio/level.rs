//! Audio level in dBov for the RTP `ssrc-audio-level` header extension (RFC 6464).
//!
//! The SFU uses this extension for active-speaker detection, so every frame we send carries it.

/// Level of a frame in dBov: 0 is full scale, −127 is digital silence.
///
/// RFC 6464 measures the RMS of the frame relative to a full-scale square wave; for 16-bit
/// PCM that reference is `i16::MAX`.
pub fn dbov(samples: &[i16]) -> i8 {
    if samples.is_empty() {
        return -127;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / samples.len() as f64).sqrt();
    if rms < 1.0 {
        return -127;
    }
    let db = 20.0 * (rms / f64::from(i16::MAX)).log10();
    // The clamp keeps the value in i8 range, so the cast cannot wrap.
    db.round().clamp(-127.0, 0.0) as i8
}

/// Whether a frame at `level` dBov counts as voice activity for the extension's V bit.
///
/// −50 dBov sits well above the noise floor of a quiet room and well below speech.
pub fn is_voice(level: i8) -> bool {
    level > -50
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_minus_127() {
        assert_eq!(dbov(&[0; 960]), -127);
        assert_eq!(dbov(&[]), -127);
        assert!(!is_voice(dbov(&[0; 960])));
    }

    #[test]
    fn full_scale_square_is_zero() {
        let square: Vec<i16> = (0..960).map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX }).collect();
        assert_eq!(dbov(&square), 0);
    }

    #[test]
    fn half_amplitude_is_minus_6() {
        let square: Vec<i16> = (0..960).map(|i| if i % 2 == 0 { 16384 } else { -16384 }).collect();
        assert_eq!(dbov(&square), -6);
        assert!(is_voice(-6));
    }
}
