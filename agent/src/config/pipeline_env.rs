//! The environment's pipeline: provider chains and options, VAD, turn detection and limits
//! read from their variables and chosen through the same [`PipelineBuilder`] a developer
//! uses in code, so one set of rules checks both; the builder's mistakes come back named by
//! the variable that held the value.

use super::env_chain::EnvChain;
use crate::env::EnvReader;
use crate::limits::LimitsConfig;
use crate::pipeline::{Pipeline, PipelineBuilder, PipelineError, Setting};
use crate::providers::{Capability, ProvidersConfig};
use crate::smart_turn::TurnDetectionConfig;
use crate::vad::config::VadSettings;

/// Reads every pipeline variable and builds the pipeline; on mistakes they are recorded in
/// `env` and the defaults returned (the caller reports them all and exits).
pub(super) fn read(env: &mut EnvReader) -> Pipeline {
    let turn = TurnDetectionConfig::from_env(env);
    let vad = VadSettings::from_env(env);
    let limits = LimitsConfig::from_env(env);
    let providers = ProvidersConfig::from_env(env);
    let chains = Capability::ALL.map(|cap| EnvChain::read(env, cap));
    let mut builder: PipelineBuilder =
        Pipeline::builder().provider_settings(providers).vad(vad).turn_config(turn).limits_config(limits);
    for chain in &chains {
        for (i, (_, endpoint)) in chain.endpoints.iter().enumerate() {
            builder = match i == 0 && chain.has_primary() {
                true => builder.primary(chain.cap, endpoint.clone()),
                false => builder.fallback(chain.cap, endpoint.clone()),
            };
        }
    }
    match builder.build() {
        Ok(pipeline) => pipeline,
        Err(errors) => {
            // The environment sets one breaker for every capability: say its mistake once.
            let mut said: Vec<(String, String)> = Vec::new();
            for e in errors.0 {
                let said_now = (variable(&e, &chains), e.expected());
                if !said.contains(&said_now) {
                    env.error(&said_now.0, said_now.1.clone());
                    said.push(said_now);
                }
            }
            Pipeline::default()
        }
    }
}

/// The variable that held the value a mistake is about.
fn variable(e: &PipelineError, chains: &[EnvChain; 3]) -> String {
    let prefix = |cap: Capability, rank: usize| {
        let c = chains.iter().find(|c| c.cap == cap);
        c.map(|c| c.prefix(rank)).unwrap_or_else(|| cap.env_prefix().to_owned())
    };
    match e.setting() {
        Setting::BaseUrl { cap, rank } => format!("{}_BASE_URL", prefix(cap, rank)),
        Setting::Model { cap, rank } => format!("{}_MODEL", prefix(cap, rank)),
        Setting::Timeout(cap) => format!("{}_TIMEOUT_SECS", cap.env_prefix()),
        Setting::Slow(cap) => format!("{}_SLOW_SECS", cap.env_prefix()),
        Setting::Breaker { field, .. } => breaker_variable(field).into(),
        Setting::Retry(field) => retry_variable(field).into(),
        Setting::LlmMaxTokens => "LLM_MAX_TOKENS".into(),
        Setting::LlmTemperature => "LLM_TEMPERATURE".into(),
        Setting::TtsSpeed => "TTS_SPEED".into(),
        Setting::VadActivation => "VAD_ACTIVATION_THRESHOLD".into(),
        Setting::VadDeactivation => "VAD_DEACTIVATION_THRESHOLD".into(),
        Setting::VadMinSilence => "VAD_MIN_SILENCE_SECS".into(),
        Setting::VadEndPadding => "VAD_END_PADDING_SECS".into(),
        Setting::VadMaxUtterance => "VAD_MAX_UTTERANCE_SECS".into(),
        Setting::VadMaxBatch => "VAD_MAX_BATCH".into(),
        Setting::TurnThreshold => "TURN_THRESHOLD".into(),
        Setting::TurnMaxDelay => "TURN_MAX_DELAY_SECS".into(),
        s @ (Setting::Limit { .. } | Setting::CostCap(_) | Setting::CostWarnFraction) => {
            crate::limits::quota_config::variable(s)
        }
    }
}

/// The `BREAKER_*` variable of a breaker field (one for every capability).
fn breaker_variable(field: &str) -> &'static str {
    match field {
        "consecutive_failures" => "BREAKER_CONSECUTIVE_FAILURES",
        "window" => "BREAKER_WINDOW_SECS",
        "buckets" => "BREAKER_BUCKETS",
        "min_calls" => "BREAKER_MIN_CALLS",
        "failure_rate" => "BREAKER_FAILURE_RATE",
        "slow_rate" => "BREAKER_SLOW_RATE",
        "open_base" => "BREAKER_OPEN_SECS",
        "open_max" => "BREAKER_OPEN_MAX_SECS",
        "retrip_window" => "BREAKER_RETRIP_WINDOW_SECS",
        "jitter" => "BREAKER_JITTER",
        _ => "BREAKER_PROBE_TIMEOUT_SECS",
    }
}

/// The `RETRY_*` variable of a retry field.
fn retry_variable(field: &str) -> &'static str {
    match field {
        "min_delay" => "RETRY_MIN_DELAY_MS",
        "max_delay" => "RETRY_MAX_DELAY_MS",
        "ratio" => "RETRY_BUDGET_RATIO",
        "per_sec" => "RETRY_BUDGET_PER_SEC",
        _ => "RETRY_BUDGET_MAX",
    }
}
