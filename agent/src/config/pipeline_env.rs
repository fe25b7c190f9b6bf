//! The environment's pipeline: provider chains and options, VAD, turn detection and limits
//! read from their variables and chosen through the same [`PipelineBuilder`] a developer
//! uses in code, so one set of rules checks both; the builder's mistakes come back named by
//! the variable that held the value.

use crate::env::EnvReader;
use crate::limits::LimitsConfig;
use crate::pipeline::{Pipeline, PipelineBuilder, PipelineError, Setting};
use crate::providers::config::EnvChain;
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
            for e in errors.0 {
                env.error(&variable(&e, &chains), e.expected());
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
