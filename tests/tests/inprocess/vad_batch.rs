//! Batched inference gives the same probabilities as one-at-a-time inference, both at the
//! model (one run over many streams) and through the batching service with many concurrent
//! async streams.

use std::time::Duration;

use crate::vad_common::*;
use voice_agent::vad::{StreamState, VadService};

#[test]
fn one_batched_run_equals_separate_runs() {
    let vad = vad();
    let golden = golden();
    let names = fixture_names(&golden);
    let audio: Vec<Vec<i16>> = names.iter().map(|n| fixture(n)).collect();
    // 3 copies of each fixture, each copy starting at a different window, 15 streams.
    let streams: Vec<(usize, usize)> =
        (0..audio.len()).flat_map(|f| (0..3).map(move |k| (f, k * 37))).collect();
    let mut alone = vec![StreamState::default(); streams.len()];
    let mut batched = alone.clone();
    let mut probs = vec![0.0f32; streams.len()];
    let mut worst = 0.0f32;
    for step in 0..150 {
        for (i, &(f, offset)) in streams.iter().enumerate() {
            let w = window_of(&audio[f], offset + step);
            alone[i].set_window(&w);
            batched[i].set_window(&w);
        }
        let single: Vec<f32> = alone.iter_mut().map(|s| vad.model().infer_one(s).expect("infer")).collect();
        vad.model().infer(&mut batched, &mut probs).expect("batched infer");
        for (a, b) in single.iter().zip(&probs) {
            worst = worst.max((a - b).abs());
        }
        for (a, b) in alone.iter().zip(&batched) {
            let d = a.state.iter().zip(&b.state).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(d < 1e-4, "step {step}: states drift apart by {d}");
        }
    }
    assert!(worst < 1e-5, "batched and unbatched probabilities differ by {worst}");
}

fn window_of(pcm: &[i16], index: usize) -> [f32; 512] {
    let mut w = [0.0f32; 512];
    let start = (index * 512) % (pcm.len() - 512);
    for (o, &s) in w.iter_mut().zip(&pcm[start..start + 512]) {
        *o = f32::from(s) / 32768.0;
    }
    w
}

#[test]
fn many_concurrent_streams_through_the_service_get_their_own_results() {
    let vad = vad();
    let golden = golden();
    let names = fixture_names(&golden);
    let cfg = reference_config(Duration::from_secs(600));
    let expected: Vec<Outcome> = names.iter().map(|n| run_direct(&vad, &fixture(n), cfg.clone())).collect();
    let service = VadService::start(vad.clone(), 64).expect("start service");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("runtime");
    let copies = 8;
    let outcomes: Vec<(usize, Outcome)> = rt.block_on(async {
        let mut tasks = Vec::new();
        for (f, name) in names.iter().enumerate() {
            for _ in 0..copies {
                let mut stream = service.stream(cfg.clone());
                let pcm = fixture(name);
                tasks.push(tokio::spawn(async move {
                    let mut out = Outcome::default();
                    let mut events = Vec::new();
                    for frame in frames(&pcm, 16_000) {
                        stream.push(frame, &mut events).await.expect("push");
                        out.add(&mut events);
                        // Interleave the streams as real-time audio would.
                        tokio::task::yield_now().await;
                    }
                    stream.finish(&mut events).await.expect("finish");
                    out.add(&mut events);
                    (f, out)
                }));
            }
        }
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.expect("task"));
        }
        all
    });
    assert_eq!(outcomes.len(), names.len() * copies);
    for (f, got) in &outcomes {
        let want = &expected[*f];
        assert_eq!(got.probs.len(), want.probs.len(), "{}", names[*f]);
        let worst = got.probs.iter().zip(&want.probs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{}: batched stream differs from direct by {worst}", names[*f]);
        assert_eq!(got.segments(), want.segments(), "{}", names[*f]);
    }
    assert!(service.is_running());
}
