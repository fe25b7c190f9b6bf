//! The environment's pipeline: read through the builder, its mistakes named by variable.

use std::time::Duration;

use super::pipeline_env::read;
use crate::env::{ConfigError, EnvReader};
use crate::pipeline::{Pipeline, TurnDetection};
use crate::secret::Secret;

fn pipeline(pairs: &[(&str, &str)]) -> Result<Pipeline, Vec<ConfigError>> {
    let mut env = EnvReader::from_pairs(pairs);
    let p = read(&mut env);
    env.finish().map(|()| p)
}

fn named(pairs: &[(&str, &str)]) -> Vec<String> {
    pipeline(pairs).expect_err("mistakes").into_iter().map(|e| e.var).collect()
}

#[test]
fn nothing_set_is_the_default_pipeline() {
    assert_eq!(pipeline(&[]).unwrap(), Pipeline::default());
}

#[test]
fn chains_keys_from_files_and_redaction() {
    let dir = std::env::temp_dir().join(format!("va-prov-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("key");
    std::fs::write(&f, "sk-secret-file\n").unwrap();
    let p = pipeline(&[
        ("LLM_BASE_URL", "https://api.openai.com/v1/"),
        ("LLM_API_KEY", "sk-primary"),
        ("LLM_MODEL", "gpt-4o-mini"),
        ("LLM_FALLBACK_1_BASE_URL", "https://api.groq.com/openai/v1"),
        ("LLM_FALLBACK_1_API_KEY_FILE", f.to_str().unwrap()),
        ("LLM_FALLBACK_1_MODEL", "llama-3.1-8b-instant"),
        ("LLM_FALLBACK_2_BASE_URL", "http://127.0.0.1:8000/v1"),
        ("STT_BASE_URL", "http://127.0.0.1:9000/v1"),
    ])
    .unwrap();
    let e = &p.providers().llm.endpoints;
    assert_eq!(e.len(), 3);
    assert_eq!(e[0].base_url, "https://api.openai.com/v1");
    assert_eq!(e[1].api_key.as_ref().map(Secret::expose), Some("sk-secret-file"));
    assert_eq!(e[2].model, "gpt-4o-mini", "a fallback inherits the primary's model");
    assert_eq!(p.providers().stt.endpoints[0].model, "whisper-1");
    let dbg = format!("{p:?}");
    assert!(!dbg.contains("sk-primary") && !dbg.contains("sk-secret-file"), "{dbg}");
}

#[test]
fn the_builders_mistakes_are_named_by_variable() {
    let names = named(&[
        ("LLM_BASE_URL", "api.openai.com"),
        ("TTS_FALLBACK_1_BASE_URL", "http://x/v1"),
        ("STT_API_KEY", "k"),
        ("LLM_MAX_TOKENS", "0"),
        ("TTS_SPEED", "9"),
    ]);
    assert_eq!(
        names,
        ["LLM_MAX_TOKENS", "TTS_SPEED", "STT_BASE_URL", "LLM_BASE_URL", "TTS_FALLBACK_1_BASE_URL"]
    );
    let names = named(&[("LLM_BASE_URL", "http://a/v1"), ("LLM_FALLBACK_2_BASE_URL", "nope")]);
    assert_eq!(names, ["LLM_FALLBACK_2_BASE_URL"], "a gap in the fallbacks keeps their names");
    let names = named(&[("LLM_FALLBACK_3_BASE_URL", "http://a/v1")]);
    assert_eq!(names, ["LLM_FALLBACK_3_BASE_URL"], "a fallback without a primary");
}

#[test]
fn settings_that_must_fit_together_are_checked_by_the_builder() {
    let errors = pipeline(&[
        ("VAD_ACTIVATION_THRESHOLD", "0.3"),
        ("VAD_DEACTIVATION_THRESHOLD", "0.4"),
        ("VAD_MIN_SILENCE_SECS", "0.3"),
        ("VAD_END_PADDING_SECS", "2"),
        ("TURN_MIN_DELAY_SECS", "2"),
        ("TURN_MAX_DELAY_SECS", "1"),
    ])
    .unwrap_err();
    let names: Vec<&str> = errors.iter().map(|e| e.var.as_str()).collect();
    assert_eq!(names, ["VAD_DEACTIVATION_THRESHOLD", "VAD_END_PADDING_SECS", "TURN_MAX_DELAY_SECS"]);
    assert_eq!(
        errors[0].to_string(),
        "VAD_DEACTIVATION_THRESHOLD=\"0.4\": expected a threshold not above the activation threshold"
    );
    let too_short = [("VAD_MIN_SILENCE_SECS", "0.01"), ("VAD_END_PADDING_SECS", "0")];
    assert_eq!(named(&too_short), ["VAD_MIN_SILENCE_SECS"]);
    let guards = [("BREAKER_OPEN_SECS", "10"), ("BREAKER_OPEN_MAX_SECS", "5"), ("RETRY_MIN_DELAY_MS", "600")];
    assert_eq!(named(&guards), ["BREAKER_OPEN_MAX_SECS", "RETRY_MAX_DELAY_MS"], "each said once");
}

#[test]
fn the_vad_silence_default_follows_the_turn_detection() {
    let smart = pipeline(&[]).unwrap();
    assert_eq!(smart.vad().segmenter.min_silence, Duration::from_millis(150));
    let vad = pipeline(&[("TURN_DETECTION", "vad")]).unwrap();
    assert_eq!((vad.turn().mode, vad.smart_endpointing()), (TurnDetection::Vad, None));
    assert_eq!(vad.vad().segmenter.min_silence, Duration::from_millis(450));
    // Switched in code, the default follows; a chosen silence stays.
    let p = smart.to_builder().turn_detection(TurnDetection::Vad).build().unwrap();
    assert_eq!(p.vad().segmenter.min_silence, Duration::from_millis(450));
    let chosen = pipeline(&[("VAD_MIN_SILENCE_SECS", "0.3"), ("TURN_DETECTION", "vad")]).unwrap();
    let p = chosen.to_builder().turn_detection(TurnDetection::Smart).build().unwrap();
    assert_eq!(p.vad().segmenter.min_silence, Duration::from_millis(300));
}
