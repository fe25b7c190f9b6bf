//! Smart Turn benchmark: cost of one end-of-turn prediction — the log-mel features, the model
//! run (1 and 2 intra-op threads), both together — single and batched through the service,
//! and the Python reference (numpy features + onnxruntime, as the pipecat-ai wheel does it) on
//! the same audio in the same run. Then memory: the process's resident memory after runs of
//! batch 1, 4, 16 and 1 again, with ONNX Runtime's arena off (the service's session) and on
//! (its default), each in a fresh session.
//!
//! `cargo bench -p voice-agent --bench smart_turn` (after `scripts/setup`). Prints a Markdown
//! table; each timing is the best of several passes. CPU is the time the work ran on a core
//! (the kernel's per-thread accounting), so waiting for a core on a busy machine is excluded.

use std::path::Path;

use voice_agent::clock;
use voice_agent::smart_turn::model::Arena;
use voice_agent::smart_turn::{FEATURES, MelExtractor, SmartTurn, SmartTurnModel, TurnDetector};

mod common;

use common::{cpu_ns, env_path, fixture, python_json, root};

const FIXTURE: &str = "turn/long_three_sentences.wav";
const PASSES: usize = 5;

/// Milliseconds per unit: wall-clock and CPU, each the best of `PASSES`.
#[derive(Clone, Copy)]
struct Ms {
    wall: f64,
    cpu: f64,
}

/// Times `f` (which does `units` units of work) after a warm-up; each pass repeats it for at
/// least a quarter second, as the kernel's run-time accounting advances in scheduler ticks.
fn best_ms(units: usize, all_threads: bool, mut f: impl FnMut()) -> Ms {
    let t = clock::now();
    f(); // warm-up
    let once = (clock::now() - t).as_secs_f64();
    let reps = (0.25 / once.max(1e-6)).ceil().clamp(1.0, 1000.0) as usize;
    let per = (units * reps) as f64;
    let mut best = Ms { wall: f64::INFINITY, cpu: f64::INFINITY };
    for _ in 0..PASSES {
        let (t, c) = (clock::now(), cpu_ns(all_threads));
        for _ in 0..reps {
            f();
        }
        let wall = (clock::now() - t).as_secs_f64() * 1e3;
        let cpu = (cpu_ns(all_threads) - c) as f64 / 1e6;
        best.wall = best.wall.min(wall / per);
        best.cpu = best.cpu.min(cpu / per);
    }
    best
}

/// Resident memory of this process, MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1));
    kb.and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

/// RSS after a fresh session's runs of batch 1, 4, 16, then 1 again (MB, from before it loaded).
fn memory(ort: &Path, path: &Path, features: &[f32], arena: Arena) -> Vec<f64> {
    let before = rss_mb();
    let mut model = SmartTurnModel::load_with(ort, path, 1, arena).expect("session");
    let batch: Vec<f32> = features.iter().copied().cycle().take(16 * FEATURES).collect();
    let mut out = vec![rss_mb() - before];
    for n in [1, 4, 16, 1] {
        let mut probs = vec![0.0; n];
        model.infer(&batch[..n * FEATURES], &mut probs).expect("infer");
        out.push(rss_mb() - before);
    }
    out
}

fn python(wav: &Path) -> Option<Ms> {
    let v = python_json("smart_turn_python.py", &[wav])?;
    Some(Ms { wall: v["ms_per_call"].as_f64()?, cpu: v["cpu_ms_per_call"].as_f64()? })
}

fn main() {
    let ort = env_path("ORT_DYLIB_PATH", "models/libonnxruntime.so.1.31.1");
    let path = env_path("TURN_MODEL_PATH", "models/smart-turn-v3.2-cpu.onnx");
    let model = SmartTurn::load(&ort, &path, 1).unwrap_or_else(|e| panic!("{e}"));
    let pcm = fixture(FIXTURE);
    let audio: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let mut extractor = MelExtractor::new();
    let mut features = vec![0.0f32; FEATURES];
    extractor.compute(&audio, &mut features);
    let mut rows: Vec<(String, Ms)> = Vec::new();

    let ms = best_ms(1, false, || extractor.compute(&audio, std::hint::black_box(&mut features)));
    rows.push(("log-mel features, 8 s (Rust)".into(), ms));
    let mut p = [0.0f32];
    let ms = best_ms(1, true, || model.model().infer(&features, &mut p).expect("infer"));
    rows.push(("model run, batch 1, 1 thread".into(), ms));
    let single = best_ms(1, true, || {
        std::hint::black_box(model.predict(&mut extractor, &audio).expect("predict"));
    });
    rows.push(("features + model, batch 1, 1 thread (one prediction)".into(), single));
    for n in [4, 8] {
        let batch: Vec<f32> = features.iter().copied().cycle().take(n * FEATURES).collect();
        let mut probs = vec![0.0; n];
        let ms = best_ms(n, true, || model.model().infer(&batch, &mut probs).expect("infer"));
        rows.push((format!("model run, batch {n}, 1 thread (per prediction)"), ms));
    }
    match SmartTurnModel::load(&ort, &path, 2) {
        Ok(mut two) => {
            let ms = best_ms(1, true, || two.infer(&features, &mut p).expect("infer"));
            rows.push(("model run, batch 1, 2 threads".into(), ms));
        }
        Err(e) => eprintln!("2-thread session: {e}"),
    }

    // The service as sessions use it: N requests at once from async tasks.
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let detector =
        TurnDetector::start(model.clone(), 16, std::time::Duration::from_secs(3600)).expect("service");
    for n in [1, 8] {
        let ms = best_ms(n, true, || {
            rt.block_on(async {
                let asks = (0..n).map(|_| detector.predict(pcm.clone()));
                for r in futures_util::future::join_all(asks).await {
                    r.expect("prediction");
                }
            })
        });
        rows.push((format!("service, {n} concurrent request(s) (per prediction)"), ms));
    }
    let py = python(&root().join("tests/fixtures").join(FIXTURE));
    drop(detector);
    let release = memory(&ort, &path, &features, Arena::Release);
    let keep = memory(&ort, &path, &features, Arena::Keep);

    println!(
        "\nSmart Turn v3.2 benchmark ({FIXTURE}: {:.1} s, 8 s used; best of {PASSES})",
        pcm.len() as f64 / 16e3
    );
    println!("CPU = time on a core (all threads of the process for model runs); wall = elapsed.\n");
    println!("| measure | CPU ms | wall ms |");
    println!("|---|---:|---:|");
    for (what, ms) in &rows {
        println!("| {what} | {:.1} | {:.1} |", ms.cpu, ms.wall);
    }
    match py {
        Some(p) => {
            println!(
                "| Python reference (numpy features + onnxruntime, 1 thread), one prediction | {:.1} | {:.1} |",
                p.cpu, p.wall
            );
            println!(
                "\nratio Python / Rust, one prediction: CPU {:.2}×, wall {:.2}×",
                p.cpu / single.cpu,
                p.wall / single.wall
            );
        }
        None => println!("\nPython path unavailable (see above); no ratio"),
    }
    println!("\nResident memory added by one session, MB (loaded; after batch 1, 4, 16, then 1 again):\n");
    println!("| session | loaded | 1 | 4 | 16 | 1 again |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, mb) in [("arena off (the service)", &release), ("arena on (ONNX Runtime's default)", &keep)] {
        let cells: Vec<String> = mb.iter().map(|m| format!("{m:.0}")).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}
