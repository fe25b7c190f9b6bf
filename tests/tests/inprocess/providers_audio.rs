//! Speech and transcription against the fake provider: 24 kHz PCM streamed and upsampled to
//! 48 kHz, odd byte counts, cut and wrong answers; the utterance sent as a real WAV with the
//! configured fields; characters and audio seconds counted; no task outlives its call.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::io::Cursor;

use crate::providers_common::{call, config, rig};
use voice_agent::providers::pcm::Upsampler2x;
use voice_agent::providers::{ProviderError, SpeechStream};
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi, tone};

async fn collect(mut s: SpeechStream) -> Result<Vec<i16>, ProviderError> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend(c?);
    }
    Ok(out)
}

#[tokio::test]
async fn speech_streams_as_48k_pcm_and_counts_characters() {
    let fake = FakeOpenAi::start().await;
    let r = rig(&config(&fake, None));
    let pcm24 = tone(300.0, 24_000, std::time::Duration::from_millis(400));
    fake.edit_replies(|rep| {
        rep.speech_pcm = pcm24.clone();
        rep.speech_chunk_bytes = 1001; // odd: samples straddle chunks
    });
    fake.push(Endpoint::Speech, Behavior::HoldBeforeLast);
    let mut s = r.providers.speak(&call(), "Hello there.").await.unwrap();
    // Audio is ready before the fake has sent its last chunk.
    let first = s.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    assert!(s.first_byte_latency().is_some());
    fake.release(1);
    let mut out = first;
    out.extend(collect(s).await.unwrap());
    let mut want = Vec::new();
    let mut up = Upsampler2x::new();
    up.process(&pcm24, &mut want);
    up.flush(&mut want);
    assert_eq!(out.len(), pcm24.len() * 2);
    assert_eq!(out, want);

    let req = &fake.requests_to(Endpoint::Speech)[0];
    let body = req.json.as_ref().unwrap();
    assert_eq!(
        (
            body["model"].as_str(),
            body["input"].as_str(),
            body["voice"].as_str(),
            body["response_format"].as_str()
        ),
        (Some("tts-1"), Some("Hello there."), Some("alloy"), Some("pcm"))
    );
    assert_eq!(r.used_today("tts_chars").await, 12);
    assert!(r.cost_today().await > 0);
}

#[tokio::test]
async fn broken_speech_is_a_clean_error() {
    let fake = FakeOpenAi::start().await;
    let mut cfg = config(&fake, None);
    cfg.tts_max_audio = std::time::Duration::from_secs(1);
    let r = rig(&cfg);
    for b in [
        Behavior::OddPcm,
        Behavior::CutMidStream,
        Behavior::WrongContentType,
        Behavior::MalformedJson,
        Behavior::HugeBody(4 << 20),
    ] {
        fake.push(Endpoint::Speech, b.clone());
        let err = match r.providers.speak(&call(), "Hi.").await {
            Err(e) => e,
            Ok(s) => collect(s).await.expect_err(&format!("{b:?} passed")),
        };
        assert!(matches!(err, ProviderError::Stream { .. }), "{b:?}: {err:?}");
    }
    assert!(fake.wait_idle().await);
    assert_eq!(r.breaker("tts", 0)["state"], "open", "five broken answers in a row");
    // Cancelled mid-speech: the connection closes (fresh providers: this breaker is open).
    let r = rig(&cfg);
    fake.push(Endpoint::Speech, Behavior::HoldBeforeLast);
    let c = call();
    let mut s = r.providers.speak(&c, "Hi.").await.unwrap();
    s.next().await.unwrap().unwrap();
    c.cancel.cancel();
    assert!(s.next().await.unwrap().unwrap_err().is_cancelled());
    assert!(fake.wait_idle().await);
}

#[tokio::test]
async fn transcription_sends_a_wav_with_the_configured_fields() {
    let fake = FakeOpenAi::start().await;
    let mut cfg = config(&fake, None);
    cfg.stt_options.language = Some("en".into());
    let r = rig(&cfg);
    let pcm: Vec<i16> = tone(200.0, 16_000, std::time::Duration::from_millis(1500));
    let t = r.providers.transcribe(&call(), &pcm).await.unwrap();
    assert_eq!(t.text, "what is the weather like today");
    assert!(t.provider.starts_with("stt:127.0.0.1:"));
    let req = &fake.requests_to(Endpoint::Transcriptions)[0];
    for (field, want) in
        [("model", "whisper-1"), ("model_name", "whisper-1"), ("response_format", "json"), ("language", "en")]
    {
        assert_eq!(req.field(field).as_deref(), Some(want), "{field}");
    }
    let file = req.form.iter().find(|p| p.name == "file").unwrap();
    let wav = hound::WavReader::new(Cursor::new(file.data.clone())).unwrap();
    assert_eq!((wav.spec().sample_rate, wav.spec().channels), (16_000, 1));
    let back: Vec<i16> = wav.into_samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(back, pcm);
    assert_eq!(r.used_today("stt_ms").await, 1500);

    for b in
        [Behavior::MalformedJson, Behavior::MalformedSse, Behavior::WrongContentType, Behavior::CutMidStream]
    {
        fake.push(Endpoint::Transcriptions, b.clone());
        let e = r.providers.transcribe(&call(), &pcm).await.unwrap_err();
        assert!(matches!(e, ProviderError::Stream { .. }), "{b:?}: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_task_outlives_the_providers() {
    {
        let fake = FakeOpenAi::start().await;
        let r = rig(&config(&fake, None));
        let msgs = [voice_agent::providers::ChatMessage {
            role: voice_agent::providers::Role::User,
            content: "hi".into(),
        }];
        // Finished, dropped half-way, cancelled and failed calls of every kind.
        let mut s = r.providers.chat(&call(), &msgs).await.unwrap();
        while s.next().await.is_some() {}
        fake.push(Endpoint::Chat, Behavior::HoldBeforeLast);
        let mut s = r.providers.chat(&call(), &msgs).await.unwrap();
        s.next().await.unwrap().unwrap();
        drop(s);
        collect(r.providers.speak(&call(), "Hi.").await.unwrap()).await.unwrap();
        fake.push(Endpoint::Speech, Behavior::CutMidStream);
        assert!(collect(r.providers.speak(&call(), "Hi.").await.unwrap()).await.is_err());
        r.providers.transcribe(&call(), &[0; 3200]).await.unwrap();
        assert!(fake.wait_idle().await);
    }
    assert!(
        crate::providers_common::wait_tasks_done().await,
        "tasks left running after the providers were dropped"
    );
}
