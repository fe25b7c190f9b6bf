//! Bad and awkward input through the real model: nothing panics, unusable frames are refused
//! with a clear error and change nothing, damaged samples are repaired, long silence stays
//! silent, and a stream that stops mid-utterance still yields the utterance.

use std::time::Duration;

use crate::vad_common::*;
use voice_agent::vad::{EndReason, FrameError, InputFrame, Samples, SegmentEvent, VadError, VadService};

#[test]
fn unusable_frames_are_refused_and_change_nothing() {
    let vad = vad();
    let pcm = fixture("speech_en_us_male.wav");
    let clean = run_direct(&vad, &pcm, reference_config(Duration::from_secs(600)));

    let mut stream = vad.stream(reference_config(Duration::from_secs(600)));
    let mut out = Outcome::default();
    let mut events = Vec::new();
    for (i, frame) in frames(&pcm, 16_000).enumerate() {
        // Between real frames: empty frames (fine) and broken ones (refused).
        stream.push(InputFrame { samples: Samples::I16(&[]), ..frame }, &mut events).expect("empty frame");
        if i % 7 == 0 {
            let odd = InputFrame { samples: Samples::I16(&[1, 2, 3]), sample_rate: 16_000, channels: 2 };
            let err = stream.push(odd, &mut events).unwrap_err();
            assert!(
                matches!(err, VadError::Frame(FrameError::PartialFrame { len: 3, channels: 2 })),
                "{err}"
            );
            let other = InputFrame { samples: Samples::I16(&[0; 480]), sample_rate: 48_000, channels: 1 };
            let err = stream.push(other, &mut events).unwrap_err();
            assert_eq!(err.to_string(), "sample rate changed from 16000 Hz to 48000 Hz within one stream");
            let six = InputFrame { samples: Samples::I16(&[0; 60]), sample_rate: 16_000, channels: 6 };
            assert!(stream.push(six, &mut events).is_err());
        }
        stream.push(frame, &mut events).expect("push");
        out.add(&mut events);
    }
    stream.finish(&mut events);
    out.add(&mut events);
    assert_eq!(out.probs, clean.probs, "refused frames left no trace");
    assert_eq!(out.segments(), clean.segments());
    assert!(stream.input_stats().refused_frames > 100);

    let mut fresh = vad.stream(reference_config(Duration::from_secs(600)));
    let odd_rate = InputFrame { samples: Samples::F32(&[0.0; 441]), sample_rate: 22_050, channels: 1 };
    let err = fresh.push(odd_rate, &mut events).unwrap_err();
    assert!(err.to_string().starts_with("unsupported sample rate 22050 Hz"), "{err}");
}

#[test]
fn nan_inf_and_clipping_are_repaired_and_probabilities_stay_finite() {
    let vad = vad();
    let pcm = fixture("speech_en_female_fast.wav");
    let mut damaged: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0 * 4.0).collect();
    for (i, x) in damaged.iter_mut().enumerate() {
        match i % 97 {
            0 => *x = f32::NAN,
            1 => *x = f32::INFINITY,
            2 => *x = f32::NEG_INFINITY,
            _ => {}
        }
    }
    let mut stream = vad.stream(reference_config(Duration::from_secs(600)));
    let mut out = Outcome::default();
    let mut events = Vec::new();
    for chunk in damaged.chunks(320) {
        let frame = InputFrame { samples: Samples::F32(chunk), sample_rate: 16_000, channels: 1 };
        stream.push(frame, &mut events).expect("damaged but usable");
        out.add(&mut events);
    }
    stream.finish(&mut events);
    out.add(&mut events);
    assert_eq!(out.probs.len(), pcm.len() / 512);
    assert!(out.probs.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
    let stats = stream.input_stats();
    assert_eq!(stats.non_finite, (0..pcm.len()).filter(|i| i % 97 < 3).count() as u64);
    assert!(stats.clipped > 1000, "4× gain clips the loud parts: {}", stats.clipped);
    assert!(!out.utterances.is_empty(), "clipped speech is still speech");
    let full_scale = out.utterances.iter().flat_map(|u| &u.pcm).filter(|&&s| s == i16::MAX || s == i16::MIN);
    assert!(full_scale.count() > 100, "the utterances carry the clipped audio");
}

#[test]
fn ten_minutes_of_silence_stay_silent() {
    let vad = vad();
    let mut stream = vad.stream(reference_config(Duration::from_secs(600)));
    let silence = [0i16; 320];
    let mut events = Vec::with_capacity(16);
    let mut windows = 0;
    for _ in 0..(10 * 60 * 50) {
        stream
            .push(
                InputFrame { samples: Samples::I16(&silence), sample_rate: 16_000, channels: 1 },
                &mut events,
            )
            .expect("push");
        for e in events.drain(..) {
            match e {
                SegmentEvent::Window { probability, .. } => {
                    assert!(probability < 0.5);
                    windows += 1;
                }
                other => panic!("silence produced {other:?}"),
            }
        }
    }
    assert_eq!(windows, 10 * 60 * 16_000 / 512);
    assert_eq!(events.capacity(), 16, "the event buffer never had to grow");
    stream.finish(&mut events);
    assert!(events.is_empty());
}

#[test]
fn a_stream_that_stops_mid_utterance_yields_it() {
    let vad = vad();
    let pcm = fixture("speech_en_us_male.wav");
    let full = run_direct(&vad, &pcm, reference_config(Duration::from_secs(600)));
    let first = &full.utterances[0];
    // Stop one second into the first utterance.
    let stop = (first.start + 16_000) as usize;
    let cut = run_direct(&vad, &pcm[..stop], reference_config(Duration::from_secs(600)));
    assert_eq!(cut.starts, [first.start]);
    let u = &cut.utterances[0];
    assert_eq!(u.reason, EndReason::StreamEnded);
    assert_eq!(u.start, first.start);
    assert_eq!(u.end, (stop / 512 * 512) as u64);
    assert_eq!(&u.pcm[..], &pcm[u.pcm_start as usize..u.end as usize]);
}

#[test]
fn a_batched_stream_that_stops_mid_utterance_yields_it_too() {
    let vad = vad();
    let pcm = fixture("speech_de_slow_noise.wav");
    let service = VadService::start(vad, 8).expect("service");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let stop = 40_000;
    let out = rt.block_on(async {
        let mut stream = service.stream(reference_config(Duration::from_secs(600)));
        let mut out = Outcome::default();
        let mut events = Vec::new();
        for frame in frames(&pcm[..stop], 16_000) {
            stream.push(frame, &mut events).await.expect("push");
            out.add(&mut events);
        }
        assert!(stream.is_speaking());
        stream.finish(&mut events).await.expect("finish");
        out.add(&mut events);
        out
    });
    assert_eq!(out.utterances.len(), 1);
    assert_eq!(out.utterances[0].reason, EndReason::StreamEnded);
    assert_eq!(out.utterances[0].end, (stop / 512 * 512) as u64);
}
