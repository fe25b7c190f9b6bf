//! Fixed work for profilers: `vad --profile CASE PASSES` runs one path over the fixture
//! PASSES times and nothing else, so an instruction count (`valgrind --tool=callgrind`,
//! deterministic whatever the machine's load) of 3 passes minus 1 pass, halved and divided
//! by the windows, is the path's cost per window without the process's start-up:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=svc3.out target/release/deps/vad-* --profile service 3
//! ```
//!
//! CASE: `model` (one stream, direct model calls), `stream` (16 kHz 20 ms frames through a
//! stream with direct calls), `service` (the same frames through one stream of the batching
//! service). Each also prints its CPU time per window (all threads) and voluntary context
//! switches per window.

use std::sync::Arc;

use voice_agent::core::segmenter::{SegmenterConfig, WINDOW};
use voice_agent::vad::{StreamState, Vad};

use crate::cases::{ServiceRun, model_pass, stream_pass};
use crate::measure::{Cpu, context_switches};

/// Runs `case` `passes` times over `pcm` (16 kHz); `Err` names an unknown case.
pub fn run(vad: &Vad, pcm: &[i16], case: &str, passes: usize) -> Result<(), String> {
    let ws = crate::windows(pcm);
    let (cpu, (switches, _)) = (Cpu::Process.ns(), context_switches());
    match case {
        "model" => {
            let mut state = StreamState::default();
            for _ in 0..passes {
                model_pass(vad, &ws, &mut state);
            }
        }
        "stream" => {
            let mut stream = vad.stream(SegmenterConfig::default());
            let mut events = Vec::with_capacity(64);
            for _ in 0..passes {
                stream_pass(&mut stream, pcm, 16_000, &mut events);
            }
        }
        "service" => {
            let mut run = ServiceRun::new(vad, 1);
            let pcm: Arc<[i16]> = pcm.into();
            for _ in 0..passes {
                run.pass(&pcm);
            }
        }
        other => return Err(format!("unknown case {other:?}: model, stream or service")),
    }
    let windows = (passes * (pcm.len() / WINDOW)) as f64;
    println!(
        "{case}: {passes} passes, {windows} windows; {:.1} µs CPU per window (all threads, start-up included), {:.2} voluntary context switches per window",
        (Cpu::Process.ns() - cpu) as f64 / 1e3 / windows,
        (context_switches().0 - switches) as f64 / windows,
    );
    Ok(())
}
