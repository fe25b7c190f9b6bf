//! Audio for the room participant: Opus codec, real-time pacing, audio level.
//!
//! All PCM at this layer is mono, signed 16-bit, 48 kHz, in 20 ms frames of 960 samples.

pub mod level;
pub mod opus;
pub mod playout;
pub mod receive;

pub use opus::{FRAME_SAMPLES, SAMPLE_RATE};
pub use receive::AudioFrame;
