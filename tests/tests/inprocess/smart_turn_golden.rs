//! Golden test: our Whisper log-mel features and Smart Turn probabilities against the
//! reference in the `pipecat-ai` wheel (tests/golden/smart_turn_reference.json, made by
//! tests/golden/make_smart_turn_golden.py) on espeak-ng utterances, complete and cut
//! mid-phrase (tests/fixtures/turn/, made by tests/fixtures/make_turn_fixtures.py).

use std::path::PathBuf;
use std::time::Duration;

use crate::vad_common::{fixture, ort_path, root};
use voice_agent::smart_turn::features::{FEATURES, N_FRAMES, N_MELS};
use voice_agent::smart_turn::{MelExtractor, SmartTurn, TurnDetector};

fn model_path() -> PathBuf {
    root().join("models/smart-turn-v3.2-cpu.onnx")
}

/// The real model; fails (never skips) when setup has not been run.
fn model() -> SmartTurn {
    for p in [ort_path(), model_path()] {
        assert!(p.exists(), "{} is missing: run scripts/setup", p.display());
    }
    SmartTurn::load(&ort_path(), &model_path(), 1).unwrap_or_else(|e| panic!("{e} (run scripts/setup)"))
}

fn golden() -> serde_json::Value {
    let path = root().join("tests/golden/smart_turn_reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

/// (name, 16 kHz PCM) of every fixture the reference has.
fn inputs(golden: &serde_json::Value) -> Vec<(String, Vec<i16>)> {
    let names: Vec<String> = golden["fixtures"].as_object().expect("fixtures").keys().cloned().collect();
    names
        .into_iter()
        .map(|name| {
            let pcm =
                if name == "silence_1s" { vec![0; 16_000] } else { fixture(&format!("turn/{name}.wav")) };
            assert_eq!(
                pcm.len() as u64,
                golden["fixtures"][&name]["samples"].as_u64().expect("samples"),
                "{name}"
            );
            (name, pcm)
        })
        .collect()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn reference_probability(golden: &serde_json::Value, name: &str) -> f32 {
    golden["fixtures"][name]["probability"].as_f64().expect("probability") as f32
}

#[test]
fn features_match_the_reference() {
    let golden = golden();
    let stride = golden["feature_stride"].as_u64().expect("stride") as usize;
    assert_eq!(floats(&golden["feature_shape"]), [N_MELS as f64, N_FRAMES as f64]);
    let inputs = inputs(&golden);
    assert!(inputs.len() >= 10, "complete, cut, long and silent inputs");
    let mut extractor = MelExtractor::new();
    let mut ours = vec![0.0f32; FEATURES];
    let (mut worst, mut worst_sum) = (0.0f64, 0.0f64);
    for (name, pcm) in &inputs {
        extractor.compute_i16(pcm, &mut ours);
        let expect = floats(&golden["fixtures"][name]["features_strided"]);
        assert_eq!(expect.len(), FEATURES.div_ceil(stride), "{name}");
        let mut local = 0.0f64;
        for (k, e) in expect.iter().enumerate() {
            let d = (f64::from(ours[k * stride]) - e).abs();
            assert!(d < 1e-4, "{name}: feature {} ours {} reference {e}", k * stride, ours[k * stride]);
            local = local.max(d);
        }
        for (m, e) in floats(&golden["fixtures"][name]["mel_sums"]).iter().enumerate() {
            let sum: f64 = ours[m * N_FRAMES..(m + 1) * N_FRAMES].iter().map(|&v| f64::from(v)).sum();
            worst_sum = worst_sum.max((sum - e).abs());
            assert!((sum - e).abs() < 1e-2, "{name}: mel bin {m} sums to {sum}, reference {e}");
        }
        eprintln!("{name}: largest feature difference {local:.2e}");
        worst = worst.max(local);
    }
    eprintln!(
        "features: max |Δ| {worst:.2e} over {} strided values; max |Δ| of a mel bin's sum over 800 frames {worst_sum:.2e}",
        inputs.len() * FEATURES.div_ceil(stride)
    );
}

#[test]
fn probabilities_match_the_reference() {
    let golden = golden();
    let model = model();
    let mut extractor = MelExtractor::new();
    let mut worst = 0.0f32;
    let (mut complete, mut cut) = (0, 0);
    for (name, pcm) in inputs(&golden) {
        let audio: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let ours = model.predict(&mut extractor, &audio).expect("inference");
        let reference = reference_probability(&golden, &name);
        let d = (ours - reference).abs();
        eprintln!("{name}: ours {ours:.6} reference {reference:.6} |Δ| {d:.2e}");
        assert!(d < 1e-3, "{name}: ours {ours} reference {reference}");
        assert_eq!(ours > 0.5, reference > 0.5, "{name}: the same decision as the reference");
        worst = worst.max(d);
        complete += usize::from(name.starts_with("complete") && ours > 0.5);
        cut += usize::from(name.starts_with("cut") && ours <= 0.5);
    }
    eprintln!("probabilities: max |Δ| {worst:.2e}");
    // The fixtures were chosen so the model tells them apart: a real check of the pipeline,
    // not only of agreement.
    assert_eq!((complete, cut), (4, 4), "complete sentences heard as finished, cut ones as not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batching_service_gives_the_direct_answers() {
    let golden = golden();
    // Waits without a deadline: every request is scored, however busy the machine.
    let detector = TurnDetector::start(model(), 8, Duration::from_secs(3600)).expect("start");
    let inputs = inputs(&golden);
    // All at once: the thread takes them in batches.
    let asks = inputs.iter().map(|(_, pcm)| detector.predict(pcm.clone()));
    let answers = futures_util::future::join_all(asks).await;
    let mut worst = 0.0f32;
    for ((name, _), got) in inputs.iter().zip(answers) {
        let got = got.expect("prediction");
        let d = (got - reference_probability(&golden, name)).abs();
        assert!(d < 1e-3, "{name}: batched {got}");
        worst = worst.max(d);
    }
    eprintln!("batched probabilities: max |Δ| {worst:.2e} against the reference");
    // A request withdrawn before its run is skipped, and the service keeps answering.
    // (Polled once, so it is queued, then dropped by the timeout.)
    let withdrawn = tokio::time::timeout(std::time::Duration::ZERO, detector.predict(inputs[0].1.clone()));
    assert!(withdrawn.await.is_err(), "not answered within no time");
    let again = detector.predict(inputs[0].1.clone()).await.expect("prediction");
    assert!((again - reference_probability(&golden, &inputs[0].0)).abs() < 1e-3);
    assert!(detector.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_waited_its_longest_wait_is_not_scored() {
    use voice_agent::smart_turn::DetectError;
    use voice_agent::smart_turn::metrics::metrics;
    // No wait at all: every request is already past its wait when the thread takes it, so it
    // is answered at once, unscored, and counted.
    let detector = TurnDetector::start(model(), 1, Duration::ZERO).expect("start");
    let late_before = metrics().late.get();
    let got = detector.predict(vec![0; 16_000]).await;
    assert!(matches!(got, Err(DetectError::Late)), "{got:?}");
    assert!(metrics().late.get() > late_before);
    assert!(detector.is_running(), "a late request does not stop the service");
}
