//! The 48 kHz path: the fixtures brought to 48 kHz by sox (mono 16-bit, and stereo float),
//! through our resampler and the model, against the 16 kHz reference. The resamplers differ
//! (sox up, rubato down), so probabilities are close rather than equal.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::vad_common::*;
use voice_agent::vad::{InputFrame, Samples, Vad};

fn to_48k(name: &str, dir: &Path) -> Vec<i16> {
    let src = root().join("tests/fixtures").join(name);
    let dst = dir.join(name);
    let status = Command::new("sox")
        .args(["-D", "-V1"])
        .arg(&src)
        .args(["-r", "48000", "-b", "16"])
        .arg(&dst)
        .status()
        .unwrap_or_else(|e| panic!("sox not runnable ({e}): run scripts/setup"));
    assert!(status.success(), "sox failed on {name}");
    let mut r = hound::WavReader::open(&dst).expect("48 kHz wav");
    assert_eq!(r.spec().sample_rate, 48_000);
    r.samples::<i16>().map(|s| s.expect("sample")).collect()
}

fn run_48k(vad: &Vad, pcm: &[i16], stereo: bool) -> Outcome {
    let mut stream = vad.stream(reference_config(Duration::from_secs(600)));
    let mut out = Outcome::default();
    let mut events = Vec::new();
    // 10 ms frames; the stereo run gets float samples with both channels equal.
    for chunk in pcm.chunks(480) {
        if stereo {
            let f: Vec<f32> = chunk.iter().flat_map(|&s| [f32::from(s) / 32768.0; 2]).collect();
            let frame = InputFrame { samples: Samples::F32(&f), sample_rate: 48_000, channels: 2 };
            stream.push(frame, &mut events).expect("push");
        } else {
            let frame = InputFrame { samples: Samples::I16(chunk), sample_rate: 48_000, channels: 1 };
            stream.push(frame, &mut events).expect("push");
        }
        out.add(&mut events);
    }
    stream.finish(&mut events);
    out.add(&mut events);
    out
}

#[test]
fn the_48k_path_agrees_with_the_16k_reference() {
    let vad = vad();
    let golden = golden();
    let dir = std::env::temp_dir().join(format!("va-vad48k-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in fixture_names(&golden) {
        let pcm = to_48k(&name, &dir);
        let reference = golden_probs(&golden, &name);
        for stereo in [false, true] {
            let out = run_48k(&vad, &pcm, stereo);
            // The resampler's delay leaves out at most the last window.
            assert!(out.probs.len() + 1 >= reference.len(), "{name}: {} windows", out.probs.len());
            let n = out.probs.len().min(reference.len());
            let diffs: Vec<f32> =
                out.probs[..n].iter().zip(&reference[..n]).map(|(a, b)| (a - b).abs()).collect();
            let mean = diffs.iter().sum::<f32>() / n as f32;
            let decisions =
                out.probs[..n].iter().zip(&reference[..n]).filter(|(a, b)| (**a >= 0.5) != (**b >= 0.5));
            let flips = decisions.count();
            eprintln!(
                "{name} stereo={stereo}: mean |Δp| {mean:.4}, max {:.3}, {flips}/{n} decisions differ",
                diffs.iter().fold(0.0f32, |a, &b| a.max(b))
            );
            assert!(mean < 0.02, "{name} stereo={stereo}: mean probability difference {mean}");
            assert!(flips * 50 <= n, "{name} stereo={stereo}: {flips} of {n} windows decided differently");
            let reference_segments = golden_segments(&golden, &name, "segments");
            assert_segments_close(&name, &out.segments(), &reference_segments, 2 * 512);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
