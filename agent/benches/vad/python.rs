//! The Python side of the comparison: `tests/bench/silero_python.py` (onnxruntime called as
//! livekit-plugins-silero calls it, and the same call batched) on the same fixture, in the
//! same run.

use std::ffi::OsStr;
use std::path::Path;

use crate::common::python_json;
use crate::measure::Us;

/// What the Python script measured.
pub struct Python {
    /// The onnxruntime version it ran.
    pub onnxruntime: String,
    /// One stream, one session run per window.
    pub single: Us,
    /// (batch size, per window per stream).
    pub batches: Vec<(usize, Us)>,
}

impl Python {
    /// The figure for batch size `n`, if timed.
    pub fn batch(&self, n: usize) -> Option<Us> {
        self.batches.iter().find(|(b, _)| *b == n).map(|(_, us)| *us)
    }
}

fn us(v: &serde_json::Value) -> Option<Us> {
    Some(Us { cpu: v["cpu_us_per_window"].as_f64()?, wall: v["us_per_window"].as_f64()?, switches: 0.0 })
}

/// Runs the script with the venv's Python (`scripts/setup`); `None`, said on stderr, when
/// it cannot run.
pub fn run(model: &Path, wav: &Path, batches: &[usize]) -> Option<Python> {
    let sizes: Vec<String> = batches.iter().map(usize::to_string).collect();
    let sizes = sizes.join(",");
    let args: [&OsStr; 4] = [model.as_os_str(), wav.as_os_str(), OsStr::new("--batch"), OsStr::new(&sizes)];
    let v = python_json("silero_python.py", &args)?;
    let batches = batches.iter().filter_map(|&n| Some((n, us(&v["batches"][n.to_string()])?))).collect();
    Some(Python {
        onnxruntime: v["onnxruntime"].as_str().unwrap_or("?").to_owned(),
        single: us(&v)?,
        batches,
    })
}
