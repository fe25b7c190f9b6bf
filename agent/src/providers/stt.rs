//! Transcription: the utterance as a 16 kHz mono WAV (written with `hound`), posted as
//! multipart to `/audio/transcriptions`, answered with `{"text": ...}`.

use std::io::Cursor;

use serde::Deserialize;

use super::config::EndpointConfig;
use super::config::SttOptions;
use super::error::Failure;

/// The input sample rate.
pub const STT_RATE: u32 = 16_000;

/// `pcm` as a 16-bit mono WAV file.
pub fn wav_bytes(pcm: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: STT_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + pcm.len() * 2));
    // Writing to memory cannot fail for want of space; the only errors are for sizes beyond 4 GiB.
    if let Ok(mut w) = hound::WavWriter::new(&mut cursor, spec) {
        let mut i16w = w.get_i16_writer(pcm.len() as u32);
        for &s in pcm {
            i16w.write_sample(s);
        }
        let _ = i16w.flush();
        let _ = w.finalize();
    }
    cursor.into_inner()
}

/// The multipart request. `model_name` is sent besides `model` because some local
/// faster-whisper servers read that field.
pub(crate) fn request(
    ep: &EndpointConfig,
    http: &reqwest::Client,
    wav: &[u8],
    o: &SttOptions,
) -> reqwest::RequestBuilder {
    let file = reqwest::multipart::Part::bytes(wav.to_vec()).file_name("audio.wav");
    let file = match file.mime_str("audio/wav") {
        Ok(f) => f,
        Err(_) => reqwest::multipart::Part::bytes(wav.to_vec()).file_name("audio.wav"),
    };
    let mut form = reqwest::multipart::Form::new()
        .part("file", file)
        .text("model", ep.model.clone())
        .text("model_name", ep.model.clone())
        .text("response_format", "json");
    if let Some(lang) = &o.language {
        form = form.text("language", lang.clone());
    }
    let mut req = http.post(format!("{}/audio/transcriptions", ep.base_url)).multipart(form);
    if let Some(k) = &ep.api_key {
        req = req.bearer_auth(k.expose());
    }
    req
}

#[derive(Deserialize)]
struct Answer {
    text: String,
}

/// The transcript from a response body.
pub(crate) fn parse_answer(content_type: &str, body: &[u8]) -> Result<String, Failure> {
    if content_type.starts_with("text/html") {
        return Err(Failure::Malformed(format!("content type {content_type}")));
    }
    let a: Answer =
        serde_json::from_slice(body).map_err(|e| Failure::Malformed(format!("transcription: {e}")))?;
    Ok(a.text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trips_through_hound() {
        let pcm: Vec<i16> = (0..1600).map(|i| (i * 7) as i16).collect();
        let bytes = wav_bytes(&pcm);
        let r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.spec().sample_rate, 16_000);
        let back: Vec<i16> = r.into_samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(back, pcm);
    }

    #[test]
    fn answers() {
        assert_eq!(parse_answer("application/json", br#"{"text":" hi there "}"#).unwrap(), "hi there");
        for (ct, body) in [
            ("application/json", &br#"{"text": 5}"#[..]),
            ("application/json", b"{\"text\": \"cut"),
            ("text/html", b"<html>"),
            ("application/json", b""),
        ] {
            assert!(matches!(parse_answer(ct, body), Err(Failure::Malformed(_))), "{ct} {body:?}");
        }
    }
}
