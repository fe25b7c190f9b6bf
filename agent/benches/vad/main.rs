//! VAD benchmark: Silero per-window cost in Rust and in Python, like with like (one stream
//! against one stream, batch against batch, in the same run on the same fixture with the
//! same ONNX Runtime and session options); then the Rust paths around the model: the front
//! end, streams with direct calls, and streams through the batching service.
//!
//! `cargo bench -p voice-agent --bench vad` (after `scripts/setup`). Prints Markdown tables.
//! Each timing is the best of several passes (the least disturbed by other work on the
//! machine); CPU time is the kernel's per-thread or per-process CPU clock, so waiting for a
//! core on a busy machine is not counted, while wall-clock time is. Allocations are counted
//! by a counting global allocator; they are Rust-side allocations (ONNX Runtime's own C++
//! allocations are not visible to it).
//!
//! `… --bench vad -- --profile CASE PASSES` runs one path and nothing else, for profilers
//! (see `profile.rs`).

mod cases;
#[path = "../common/mod.rs"]
mod common;
mod measure;
mod profile;
mod python;

use std::alloc::System;
use std::path::PathBuf;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use voice_agent::core::segmenter::WINDOW;
use voice_agent::vad::Vad;

use cases::Row;
use common::{env_path, fixture, root};
use measure::{PASSES, Us};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const FIXTURE: &str = "speech_en_us_male.wav";
/// No speech: allocation counts without utterance buffers.
const QUIET: &str = "nonspeech_silence_noise_tones.wav";
const BATCHES: [usize; 3] = [8, 32, 64];
const WINDOW_SECS: f64 = WINDOW as f64 / 16_000.0;

fn fixture_path(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

fn windows(pcm: &[i16]) -> Vec<[f32; WINDOW]> {
    pcm.chunks_exact(WINDOW)
        .map(|c| {
            let mut w = [0.0; WINDOW];
            for (o, &s) in w.iter_mut().zip(c) {
                *o = f32::from(s) / 32768.0;
            }
            w
        })
        .collect()
}

/// 48 kHz version of the fixture (sample repetition is enough for timing the resampler).
fn to_48k(pcm: &[i16]) -> Vec<i16> {
    pcm.iter().flat_map(|&s| [s; 3]).collect()
}

fn ratio(py: f64, rust: f64) -> String {
    format!("{:.2}×", py / rust)
}

/// Rust against Python, path for path.
fn print_like_with_like(single: &Row, batches: &[Row], py: &python::Python) {
    println!(
        "\nRust (ort) and Python (onnxruntime {}), like with like: one thread, the session options \
         of livekit-plugins-silero on both sides; Python ÷ Rust > 1 means Rust is cheaper.\n",
        py.onnxruntime
    );
    println!(
        "| path | Rust CPU µs | Python CPU µs | Python ÷ Rust (CPU) | Rust wall µs | Python wall µs | Python ÷ Rust (wall) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let line = |what: &str, r: Us, p: Us| {
        println!(
            "| {what} | {:.1} | {:.1} | {} | {:.1} | {:.1} | {} |",
            r.cpu,
            p.cpu,
            ratio(p.cpu, r.cpu),
            r.wall,
            p.wall,
            ratio(p.wall, r.wall)
        );
    };
    line("one stream, one run per window (µs/window)", single.us, py.single);
    for (n, row) in BATCHES.iter().zip(batches) {
        if let Some(p) = py.batch(*n) {
            line(&format!("batch {n}, one run per {n} windows (µs/window/stream)"), row.us, p);
        }
    }
}

fn print_rust(rows: &[Row]) {
    println!(
        "\nRust paths (allocations counted on {QUIET}; 1 per utterance, its PCM buffer, comes on top)\n"
    );
    println!(
        "| measure | CPU µs | wall µs | real-time factor (CPU) | voluntary context switches per unit | Rust allocations per unit |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let unit_secs = if r.what.contains("µs/frame") { 0.020 } else { WINDOW_SECS };
        println!(
            "| {} | {:.1} | {:.1} | {:.4} | {:.2} | {:.3} |",
            r.what,
            r.us.cpu,
            r.us.wall,
            r.us.cpu * 1e-6 / unit_secs,
            r.us.switches,
            r.allocs
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ort = env_path("ORT_DYLIB_PATH", "models/libonnxruntime.so.1.31.1");
    let model = env_path("VAD_MODEL_PATH", "models/silero_vad.onnx");
    let vad = Vad::load(&ort, &model).unwrap_or_else(|e| panic!("{e}"));
    let pcm = fixture(FIXTURE);
    // `cargo bench` passes `--bench`; `--profile CASE PASSES` runs one path for profilers.
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let case = args.get(i + 1).map_or("", String::as_str);
        let passes = args.get(i + 2).and_then(|p| p.parse().ok()).unwrap_or(1);
        if let Err(e) = profile::run(&vad, &pcm, case, passes) {
            eprintln!("{e}");
            std::process::exit(2);
        }
        return;
    }
    let load_before = measure::load_average();
    let quiet = fixture(QUIET);
    let ws = windows(&pcm);
    let pcm48 = to_48k(&pcm);

    let single = cases::single_stream(&vad, &ws);
    let batches: Vec<Row> = BATCHES.iter().map(|&n| cases::batched(&vad, &ws, n)).collect();
    let py = python::run(&model, &fixture_path(FIXTURE), &BATCHES);
    let mut rows = vec![
        cases::direct_stream(&vad, &pcm, &quiet, 16_000),
        cases::direct_stream(&vad, &pcm48, &to_48k(&quiet), 48_000),
        cases::front_end_48k(&pcm48),
    ];
    rows.extend([1, 32, 100].map(|n| cases::service(&vad, &pcm, &quiet, n)));

    println!(
        "\nSilero VAD benchmark ({FIXTURE}, {} windows of 32 ms, best of {PASSES}; load average {load_before} \
         before, {} after, on {} cores)",
        ws.len(),
        measure::load_average(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    println!(
        "CPU = time the work ran on a core (waiting for a core on a busy machine excluded); wall = elapsed."
    );
    match &py {
        Some(p) => print_like_with_like(&single, &batches, p),
        None => println!("\nPython path unavailable (see above); no comparison"),
    }
    let mut model_rows = vec![single];
    model_rows.extend(batches);
    print_rust(&model_rows);
    print_rust(&rows);
    let (direct, one) = (&rows[0], &rows[3]);
    println!(
        "\none stream through the service: {:.1} µs CPU per window against {:.1} with direct calls \
         (+{:.1} µs, {:.2} voluntary context switches per window: the handoff to the batching thread \
         and back)",
        one.us.cpu,
        direct.us.cpu,
        one.us.cpu - direct.us.cpu,
        one.us.switches
    );
    let batch32 = model_rows.iter().find(|r| r.what.contains("batch 32")).map_or(f64::NAN, |r| r.us.cpu);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "targets (CPU): one stream ≤ 100 µs/window: {}; batch 32 ≤ 40 µs/window/stream: {}",
        verdict(model_rows[0].us.cpu <= 100.0),
        verdict(batch32 <= 40.0)
    );
}
