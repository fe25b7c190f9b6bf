//! Number ranges of settings: one [`Bounds`] per number a pipeline takes, checked by the
//! pipeline's builder and read with by the environment edge, so both accept the same values.

use std::time::Duration;

use super::error::{PipelineError, Setting};

/// Inclusive bounds of a number setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<T> {
    /// Smallest accepted.
    pub min: T,
    /// Largest accepted.
    pub max: T,
}

/// The LLM's `temperature`.
pub const TEMPERATURE: Bounds<f32> = Bounds { min: 0.0, max: 2.0 };
/// The LLM's `max_tokens`.
pub const MAX_TOKENS: Bounds<u32> = Bounds { min: 1, max: 100_000 };
/// The TTS `speed`.
pub const TTS_SPEED: Bounds<f32> = Bounds { min: 0.25, max: 4.0 };
/// The VAD's activation and deactivation thresholds (probabilities).
pub const VAD_THRESHOLD: Bounds<f32> = Bounds { min: 0.01, max: 0.99 };
/// Streams scored in one VAD run.
pub const VAD_MAX_BATCH: Bounds<usize> = Bounds { min: 1, max: 512 };
/// Smart Turn's finished-turn threshold (a probability).
pub const TURN_THRESHOLD: Bounds<f32> = Bounds { min: 0.01, max: 0.99 };
/// A daily cost cap, in USD.
pub const COST_CAP_USD: Bounds<f64> = Bounds { min: 0.0, max: 1e9 };
/// The share of a cost cap at which warnings start.
pub const COST_WARN_FRACTION: Bounds<f64> = Bounds { min: 0.0, max: 1.0 };
/// A breaker's failure and slow-call rates.
pub const BREAKER_RATE: Bounds<f64> = Bounds { min: 0.01, max: 1.0 };
/// A breaker's jitter on its open time (a share).
pub const BREAKER_JITTER: Bounds<f64> = Bounds { min: 0.0, max: 1.0 };
/// The buckets of a breaker's window.
pub const BREAKER_BUCKETS: Bounds<u32> = Bounds { min: 1, max: 60 };
/// The calls a breaker's window needs before rates count.
pub const BREAKER_MIN_CALLS: Bounds<u32> = Bounds { min: 1, max: 100_000 };
/// The retry budget's share of calls.
pub const RETRY_RATIO: Bounds<f64> = Bounds { min: 0.0, max: 1.0 };
/// The retry budget's refill per second.
pub const RETRY_PER_SEC: Bounds<f64> = Bounds { min: 0.0, max: 1000.0 };
/// The retry budget's size.
pub const RETRY_MAX_TOKENS: Bounds<u32> = Bounds { min: 1, max: 100_000 };
/// The shortest silence the VAD can see (one 32 ms window).
pub const VAD_MIN_SILENCE_FLOOR: Duration = Duration::from_millis(32);

/// A number a [`Bounds`] can check.
pub trait Checked: Copy + PartialOrd {
    /// The value as `f64`, for the error.
    fn as_f64(self) -> f64;
}

macro_rules! checked {
    ($($t:ty),*) => { $(impl Checked for $t { fn as_f64(self) -> f64 { self as f64 } })* };
}
checked!(f32, u32, u64, usize);

impl Checked for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}

impl<T: Checked> Bounds<T> {
    /// Records [`PipelineError::OutOfRange`] unless `min <= value <= max` (`NaN` never is).
    pub fn check(self, setting: Setting, value: T, errors: &mut Vec<PipelineError>) {
        if !(self.min <= value && value <= self.max) {
            let (value, min, max) = (value.as_f64(), self.min.as_f64(), self.max.as_f64());
            errors.push(PipelineError::OutOfRange { setting, value, min, max });
        }
    }
}
