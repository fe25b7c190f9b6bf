use super::*;
use crate::clock;
use crate::livekit::audio::FRAME_SAMPLES;
use crate::livekit::audio::opus::{EncoderSettings, OpusEncoder};

fn attrs(track: &str, rate: &str, channels: &str) -> HashMap<String, String> {
    [("trackId", track), ("sampleRate", rate), ("channels", channels)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn sine(rate: u32, secs: f32) -> Vec<i16> {
    let n = (rate as f32 * secs) as usize;
    (0..n)
        .map(|i| (8000.0 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin()) as i16)
        .collect()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// An EBML element: id bytes, then the size (8-byte vint, or "unknown"), then the body.
fn el(id: &[u8], body: &[u8], unknown_size: bool) -> Vec<u8> {
    let mut v = id.to_vec();
    if unknown_size {
        v.push(0x01);
        v.extend_from_slice(&[0xFF; 7]);
    } else {
        v.push(0x01);
        v.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
    }
    v.extend_from_slice(body);
    v
}

/// A WebM laid out like a `MediaRecorder` recording: live (unknown-size) Segment and
/// Cluster, one Opus track, one SimpleBlock per 20 ms packet.
fn webm_recording(pcm: &[i16]) -> Vec<u8> {
    let mut encoder = OpusEncoder::new(EncoderSettings::default()).unwrap();
    let mut blocks = Vec::new();
    for (i, frame) in pcm.chunks_exact(FRAME_SAMPLES).enumerate() {
        let packet = encoder.encode(frame.try_into().unwrap()).unwrap().to_vec();
        let timecode = (i as i16 * 20).to_be_bytes();
        let mut block = vec![0x81, timecode[0], timecode[1], 0x80];
        block.extend_from_slice(&packet);
        blocks.extend(el(&[0xA3], &block, false));
    }
    let header = el(&webm::EBML_MAGIC, &el(&[0x42, 0x82], b"webm", false), false);
    let entry = [el(&[0xD7], &[1], false), el(&[0x83], &[2], false), el(&[0x86], b"A_OPUS", false)].concat();
    let tracks = el(&[0x16, 0x54, 0xAE, 0x6B], &el(&[0xAE], &entry, false), false);
    let info = el(&[0x15, 0x49, 0xA9, 0x66], &el(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40], false), false);
    let cluster = el(&[0x1F, 0x43, 0xB6, 0x75], &[el(&[0xE7], &[0], false), blocks].concat(), true);
    [header, el(&[0x18, 0x53, 0x80, 0x67], &[info, tracks, cluster].concat(), true)].concat()
}

#[test]
fn attributes_are_required_and_checked() {
    let now = clock::now();
    let ok =
        PreConnectAudio::new("ann".into(), "audio/pcm", &attrs("TR_1", "24000", "2"), vec![], now).unwrap();
    assert_eq!(
        (ok.track_sid.as_str(), ok.sample_rate, ok.channels, ok.encoding),
        ("TR_1", 24_000, 2, Encoding::Pcm16)
    );
    let err = |a, mime| PreConnectAudio::new("ann".into(), mime, &a, vec![], now).unwrap_err();
    assert_eq!(err(attrs("", "48000", "1"), ""), PreConnectError::Attribute("trackId"));
    assert_eq!(err(attrs("TR_1", "fast", "1"), ""), PreConnectError::Attribute("sampleRate"));
    assert_eq!(err(attrs("TR_1", "48000", "6"), ""), PreConnectError::Attribute("channels"));
    assert_eq!(
        err(attrs("TR_1", "48000", "1"), "video/mp4"),
        PreConnectError::Unsupported("video/mp4".into())
    );
    let webm = PreConnectAudio::new(
        "ann".into(),
        "audio/webm;codecs=opus",
        &attrs("TR_1", "48000", "1"),
        vec![],
        now,
    );
    assert_eq!(webm.unwrap().encoding, Encoding::WebmOpus);
}

#[test]
fn pcm_is_mixed_to_mono_and_resampled_to_48k() {
    let now = clock::now();
    // 0.5 s of a 24 kHz stereo tone (same in both channels).
    let mono = sine(24_000, 0.5);
    let bytes: Vec<u8> = mono.iter().flat_map(|s| [s.to_le_bytes(), s.to_le_bytes()].concat()).collect();
    let audio =
        PreConnectAudio::new("ann".into(), "audio/pcm", &attrs("TR_1", "24000", "2"), bytes, now).unwrap();
    let pcm = audio.decode().unwrap();
    assert_eq!(pcm.len(), 24_000, "0.5 s at 48 kHz");
    let (a, b) = (rms(&mono), rms(&pcm[2400..21600]));
    assert!((a - b).abs() / a < 0.05, "level kept: {a} vs {b}");
    // 48 kHz mono passes through untouched.
    let bytes: Vec<u8> = mono.iter().flat_map(|s| s.to_le_bytes()).collect();
    let same = PreConnectAudio::new("ann".into(), "", &attrs("TR_1", "48000", "1"), bytes, now).unwrap();
    assert_eq!(same.decode().unwrap(), mono);
    let odd =
        PreConnectAudio::new("ann".into(), "", &attrs("TR_1", "12345", "1"), vec![0; 100], now).unwrap();
    assert!(matches!(odd.decode(), Err(PreConnectError::Audio(_))));
}

#[test]
fn webm_opus_recordings_are_decoded() {
    let now = clock::now();
    let tone = sine(48_000, 1.0);
    let bytes = webm_recording(&tone);
    let packets = webm::opus_packets(&bytes).unwrap();
    assert_eq!(packets.len(), 50, "one packet per 20 ms");
    let audio = PreConnectAudio::new(
        "ann".into(),
        "audio/webm;codecs=opus",
        &attrs("TR_1", "48000", "1"),
        bytes.clone(),
        now,
    )
    .unwrap();
    let pcm = audio.decode().unwrap();
    assert_eq!(pcm.len(), 48_000);
    let (a, b) = (rms(&tone[4800..]), rms(&pcm[4800..]));
    assert!((a - b).abs() / a < 0.2, "tone survives Opus: {a} vs {b}");
    // A recording cut short keeps the packets before the cut.
    let cut = &bytes[..bytes.len() - 40];
    let kept = webm::opus_packets(cut).unwrap().len();
    assert!((48..50).contains(&kept), "{kept}");
    assert_eq!(webm::opus_packets(b"RIFF....").unwrap_err(), PreConnectError::Container("no EBML header"));
}
