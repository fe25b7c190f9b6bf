//! The builder: defaults, overrides, starting from other choices, and every kind of mistake.

use std::time::Duration;

use super::*;
use crate::core::quota::{Quotas, Scope, Unit, Window};
use crate::secret::Secret;

fn errors_of(b: PipelineBuilder) -> Vec<PipelineError> {
    b.build().expect_err("mistakes").0
}

#[test]
fn defaults_build_to_the_default_pipeline() {
    let p = Pipeline::builder().build().expect("defaults are valid");
    assert_eq!(p, Pipeline::default());
    assert!(p.providers().llm.endpoints.is_empty(), "no provider unless chosen");
    assert_eq!(p.turn().mode, TurnDetection::Smart);
    assert_eq!(p.smart_endpointing(), Some(SmartEndpointing::default()));
    assert_eq!(p.vad().segmenter.min_silence, crate::smart_turn::config::SMART_VAD_MIN_SILENCE);
    assert_eq!(p.limits().quotas, Quotas::default());
}

#[test]
fn every_choice_lands_where_the_worker_reads_it() {
    let p = Pipeline::builder()
        .llm(OpenAiCompatible::new("https://api.openai.com/v1").model("gpt-4o").api_key("sk-a"))
        .llm_fallback(OpenAiCompatible::new("http://127.0.0.1:8080/v1/").model("qwen"))
        .stt(OpenAiCompatible::new("http://127.0.0.1:8000/v1"))
        .tts(OpenAiCompatible::new("http://127.0.0.1:8880/v1").model("kokoro"))
        .tts_fallback(OpenAiCompatible::new("http://127.0.0.1:8881/v1"))
        .llm_max_tokens(120)
        .llm_temperature(0.2)
        .tts_voice("af_heart")
        .tts_speed(1.25)
        .stt_language("de")
        .timeout(Capability::Tts, Duration::from_secs(3))
        .slow_after(Capability::Llm, Duration::from_millis(800))
        .vad(VadSettings { activation_threshold: 0.7, max_batch: 8, ..VadSettings::default() })
        .turn_detection(TurnDetection::Vad)
        .limits(Limits::none().limit(Scope::Participant, Unit::Turns, Window::Minute, 4))
        .build()
        .expect("valid");
    let prov = p.providers();
    let urls: Vec<&str> = prov.llm.endpoints.iter().map(|e| e.base_url.as_str()).collect();
    assert_eq!(urls, ["https://api.openai.com/v1", "http://127.0.0.1:8080/v1"]);
    assert_eq!(prov.llm.endpoints[0].api_key.as_ref().map(Secret::expose), Some("sk-a"));
    assert_eq!(prov.stt.endpoints[0].model, "whisper-1", "the capability's default model");
    assert_eq!(prov.tts.endpoints[1].model, "kokoro", "a fallback inherits the primary's model");
    assert_eq!((prov.llm_options.max_tokens, prov.llm_options.temperature), (120, 0.2));
    assert_eq!((prov.tts_options.voice.as_str(), prov.tts_options.speed), ("af_heart", Some(1.25)));
    assert_eq!(prov.stt_options.language.as_deref(), Some("de"));
    assert_eq!((prov.tts.timeout, prov.llm.slow), (Duration::from_secs(3), Duration::from_millis(800)));
    let vad = p.vad();
    assert_eq!((vad.segmenter.activation_threshold, vad.max_batch), (0.7, 8));
    assert_eq!(vad.segmenter.min_silence, Duration::from_millis(450), "silence decides with Vad");
    assert_eq!(p.smart_endpointing(), None);
    let q = &p.limits().quotas;
    assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Minute), 4);
    assert_eq!(q.limit(Scope::Participant, Unit::CostMicroUsd, Window::Day), 0);
    assert!(!format!("{p:?}").contains("sk-a"), "keys never print");
}

#[test]
fn starting_from_other_choices_overrides_only_what_is_chosen() {
    let env = Pipeline::builder()
        .llm(OpenAiCompatible::new("https://api.openai.com/v1"))
        .llm_fallback(OpenAiCompatible::new("https://api.groq.com/openai/v1").model("llama"))
        .tts(OpenAiCompatible::new("http://tts.local/v1"))
        .llm_temperature(0.1)
        .build()
        .unwrap();
    assert_eq!(env.to_builder().build().unwrap(), env, "a round trip changes nothing");
    let p = env
        .to_builder()
        .llm(OpenAiCompatible::new("http://127.0.0.1:8080/v1").model("qwen"))
        .build()
        .unwrap();
    assert_eq!(p.providers().llm.endpoints.len(), 1, "a new primary drops the old chain");
    assert_eq!(p.providers().tts, env.providers().tts);
    assert_eq!(p.providers().llm_options.temperature, 0.1);
    let p = env.to_builder().llm_fallback(OpenAiCompatible::new("http://127.0.0.1:8080/v1")).build().unwrap();
    assert_eq!(p.providers().llm.endpoints.len(), 3, "a fallback is added to the chain");
    assert_eq!(p.providers().llm.endpoints[2].model, "gpt-4o-mini");
    let p = env.to_builder().without(Capability::Tts).build().unwrap();
    assert!(p.providers().tts.endpoints.is_empty());
    let strict = env.to_builder().limits(Limits::none().limit(Scope::Room, Unit::Turns, Window::Hour, 50));
    let p = strict.edit_limits(|l| l.sessions(Scope::Global, 10)).build().unwrap();
    let q = &p.limits().quotas;
    assert_eq!((q.limit(Scope::Room, Unit::Turns, Window::Hour), q.session_limit(Scope::Global)), (50, 10));
    assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Minute), 0, "edited, not reset");
}

#[test]
fn every_mistake_comes_back_typed_and_at_once() {
    let errors = errors_of(
        Pipeline::builder()
            .llm(OpenAiCompatible::new("ftp://x/v1"))
            .tts_fallback(OpenAiCompatible::new("http://tts/v1"))
            .stt(OpenAiCompatible::new("http://stt/v1").model(""))
            .llm_max_tokens(0)
            .llm_temperature(f32::NAN)
            .tts_speed(f32::INFINITY)
            .timeout(Capability::Stt, Duration::ZERO)
            .vad(VadSettings {
                activation_threshold: 0.3,
                deactivation_threshold: 0.4,
                min_silence: Some(Duration::from_millis(10)),
                end_padding: Some(Duration::from_millis(100)),
                max_utterance: Duration::ZERO,
                max_batch: 0,
                ..VadSettings::default()
            })
            .smart_endpointing(SmartEndpointing {
                threshold: f32::NAN,
                min_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(1),
                ..SmartEndpointing::default()
            })
            .limits(Limits::default().limit(Scope::Global, Unit::Turns, Window::Minute, 0)),
    );
    let named: Vec<String> = errors.iter().map(|e| e.setting().to_string()).collect();
    assert_eq!(
        named,
        [
            "stt model",
            "llm base URL",
            "tts fallback 1 base URL",
            "stt timeout",
            "llm max_tokens",
            "llm temperature",
            "tts speed",
            "vad max_batch",
            "vad deactivation_threshold",
            "vad min_silence",
            "vad end_padding",
            "vad max_utterance",
            "smart turn threshold",
            "smart turn max_delay",
            "limit global/turns/minute",
        ]
    );
    assert!(matches!(errors[1], PipelineError::BadUrl { .. }));
    assert!(matches!(errors[2], PipelineError::FallbackWithoutPrimary { cap: Capability::Tts, .. }));
    assert!(matches!(errors[3], PipelineError::ZeroDuration { .. }));
    assert!(matches!(errors[5], PipelineError::OutOfRange { value, .. } if value.is_nan()));
    assert!(matches!(errors[14], PipelineError::ZeroLimit { .. }));
}

#[test]
fn breakers_and_retries_are_chosen_and_checked() {
    let quick = BreakerConfig {
        consecutive_failures: 2,
        open_base: Duration::from_millis(500),
        ..BreakerConfig::default()
    };
    let p = Pipeline::builder()
        .breaker(Capability::Tts, quick.clone())
        .retry(RetryConfig { ratio: 0.0, ..RetryConfig::default() })
        .build()
        .unwrap();
    assert_eq!(p.providers().breakers.tts, quick);
    assert_eq!(p.providers().breakers.llm, BreakerConfig::default());
    assert_eq!(p.providers().retry.ratio, 0.0);
    let errors = errors_of(
        Pipeline::builder()
            .breaker(
                Capability::Llm,
                BreakerConfig {
                    failure_rate: f64::NAN,
                    open_max: Duration::from_millis(100),
                    ..BreakerConfig::default()
                },
            )
            .retry(RetryConfig { max_delay: Duration::ZERO, per_sec: -1.0, ..RetryConfig::default() }),
    );
    let named: Vec<String> = errors.iter().map(|e| e.setting().to_string()).collect();
    assert_eq!(
        named,
        ["llm breaker failure_rate", "llm breaker open_max", "retry per_sec", "retry max_delay"]
    );
}

#[test]
fn a_chain_holds_at_most_three_fallbacks() {
    let mut b = Pipeline::builder().llm(OpenAiCompatible::new("http://a/v1"));
    for host in ["b", "c", "d"] {
        b = b.llm_fallback(OpenAiCompatible::new(format!("http://{host}/v1")));
    }
    assert!(b.clone().build().is_ok());
    let errors = errors_of(b.llm_fallback(OpenAiCompatible::new("http://e/v1")));
    assert!(matches!(errors[..], [PipelineError::TooManyFallbacks { max: 3, .. }]), "{errors:?}");
}
