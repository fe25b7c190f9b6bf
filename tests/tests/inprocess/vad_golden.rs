//! Golden test: our Silero pipeline against the reference `silero-vad` package output
//! (tests/golden/silero_reference.json, made by tests/golden/make_golden.py) on the committed
//! 16 kHz fixtures, so no resampler stands between the two.

use std::time::Duration;

use crate::vad_common::*;

#[test]
fn probabilities_match_the_reference_within_1e_3() {
    let vad = vad();
    let golden = golden();
    let names = fixture_names(&golden);
    assert_eq!(names.len(), 5, "all fixtures have reference data");
    for name in &names {
        let pcm = fixture(name);
        let expect = golden_probs(&golden, name);
        let got = run_direct(&vad, &pcm, reference_config(Duration::from_secs(600))).probs;
        assert_eq!(got.len(), expect.len(), "{name}: window count");
        let (worst, at) = got
            .iter()
            .zip(&expect)
            .enumerate()
            .map(|(i, (a, b))| ((a - b).abs(), i))
            .fold((0.0f32, 0), |m, x| if x.0 > m.0 { x } else { m });
        eprintln!("{name}: {} windows, largest difference from the reference {worst:.2e}", got.len());
        assert!(worst < 1e-3, "{name}: window {at}: ours {} reference {}", got[at], expect[at]);
    }
}

#[test]
fn segments_match_the_reference_within_one_window() {
    let vad = vad();
    let golden = golden();
    let mut speech_segments = 0;
    for name in fixture_names(&golden) {
        let pcm = fixture(&name);
        let out = run_direct(&vad, &pcm, reference_config(Duration::from_secs(600)));
        let reference = golden_segments(&golden, &name, "segments");
        assert_segments_close(&name, &out.segments(), &reference, 512);
        assert_eq!(out.starts.len(), out.utterances.len(), "{name}: every utterance was announced");
        speech_segments += reference.len();
    }
    assert!(speech_segments >= 8, "the fixtures hold real speech: {speech_segments} segments");
}

#[test]
fn max_length_cuts_match_the_reference_within_one_window() {
    let vad = vad();
    let golden = golden();
    let max = golden["segment_settings"]["max_cut_secs"].as_f64().expect("max_cut_secs");
    let mut cut = false;
    for name in fixture_names(&golden) {
        let pcm = fixture(&name);
        let out = run_direct(&vad, &pcm, reference_config(Duration::from_secs_f64(max)));
        let reference = golden_segments(&golden, &name, "segments_max_cut");
        assert_segments_close(&name, &out.segments(), &reference, 512);
        cut |= reference.len() > golden_segments(&golden, &name, "segments").len();
    }
    assert!(cut, "some fixture is long enough to be cut");
}

#[test]
fn utterance_pcm_is_the_input_with_padding() {
    let vad = vad();
    let pcm = fixture("speech_en_us_male.wav");
    let out = run_direct(&vad, &pcm, reference_config(Duration::from_secs(600)));
    for u in &out.utterances {
        let from = u.pcm_start as usize;
        assert!(u.start - u.pcm_start <= 8000, "at most 500 ms of prefix");
        let input = &pcm[from..from + u.pcm.len()];
        let differ = input.iter().zip(&u.pcm).position(|(a, b)| a != b);
        assert_eq!(differ, None, "utterance PCM is the input, sample for sample (first difference)");
        assert!(u.pcm_start + u.pcm.len() as u64 >= u.end, "the speech is all in");
    }
}
