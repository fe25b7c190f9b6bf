//! What a finished turn cost and how it went: the session metrics, the estimated spend, and
//! the one log line per turn. Pure bookkeeping: the loop hands over what it knows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::metrics::{metrics, observe};
use super::outcome::Outcome;
use super::reply::Reply;
use crate::core::cost::PriceTable;
use crate::core::quota::Usage;

/// What the loop knew about a turn besides its reply.
#[derive(Debug)]
pub struct TurnFacts<'a> {
    /// Room name.
    pub room: &'a str,
    /// The participant the turn answered.
    pub who: &'a Arc<str>,
    /// End of the speech it answered.
    pub speech_ended: Option<Instant>,
    /// Slowest STT latency of the utterances it answered.
    pub stt: Option<Duration>,
    /// Audio transcribed for it, milliseconds.
    pub audio_ms: u64,
    /// How the turn counts.
    pub outcome: Outcome,
    /// When its stages happened (logged as offsets from `speech_ended`).
    pub stages: Stages,
}

/// When the stages of a turn before its first audio happened, as the session saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stages {
    /// The VAD reported the end of the last utterance answered.
    pub heard: Option<Instant>,
    /// The last transcript answered came in.
    pub transcribed: Option<Instant>,
    /// A reply prepared ahead was released: the end of the turn was confirmed then.
    pub released: Option<Instant>,
}

/// The models usage is priced by.
#[derive(Debug, Clone, Default)]
pub struct Models {
    /// The primary TTS endpoint's model.
    pub tts: String,
    /// The primary STT endpoint's model.
    pub stt: String,
}

/// Counts the turn in the metrics, prices it, and logs its line; returns the cost
/// (micro-USD).
pub fn account(
    prices: &PriceTable,
    models: &Models,
    facts: &TurnFacts<'_>,
    reply: &Reply,
    heard: &str,
) -> u64 {
    let m = metrics();
    m.turn(facts.outcome.label());
    let response = match (facts.speech_ended, reply.first_audio) {
        (Some(end), Some(first)) => Some(first.saturating_duration_since(end)),
        _ => None,
    };
    if let Some(d) = response {
        observe(&m.response, d);
    }
    if let Some(d) = reply.llm_ttft {
        observe(&m.llm_ttft, d);
    }
    if let Some(d) = reply.tts_ttfb {
        observe(&m.tts_ttfb, d);
    }
    let (prompt, completion) = reply.tokens.map_or((0, 0), |(p, c)| (u64::from(p), u64::from(c)));
    m.prompt_tokens.inc_by(prompt);
    m.completion_tokens.inc_by(completion);
    m.tts_characters.inc_by(reply.tts_chars);
    let llm_model = reply.llm.as_deref().and_then(|n| n.rsplit('/').next()).unwrap_or_default();
    let cost = prices
        .cost(llm_model, &Usage { input_tokens: prompt, output_tokens: completion, ..Usage::default() })
        + prices.cost(&models.tts, &Usage { tts_chars: reply.tts_chars, ..Usage::default() })
        + prices.cost(&models.stt, &Usage { stt_millis: facts.audio_ms, ..Usage::default() });
    m.cost_micro_usd.inc_by(cost);
    let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
    // Each stage as milliseconds after the end of speech (a reply prepared ahead may start
    // before a noise that came later and was answered with it: 0 then).
    let after = |at: Option<Instant>| match (facts.speech_ended, at) {
        (Some(end), Some(at)) => Some(at.saturating_duration_since(end).as_millis() as u64),
        _ => None,
    };
    let first_token = reply.started.zip(reply.llm_ttft).map(|(s, d)| s + d);
    tracing::info!(
        room = %facts.room,
        participant = %facts.who,
        turn = reply.turn,
        outcome = facts.outcome.label(),
        response_ms = ms(response),
        stt_ms = ms(facts.stt),
        llm_ttft_ms = ms(reply.llm_ttft),
        tts_ttfb_ms = ms(reply.tts_ttfb),
        heard_ms = after(facts.stages.heard),
        transcribed_ms = after(facts.stages.transcribed),
        reply_started_ms = after(reply.started),
        first_token_ms = after(first_token),
        first_sentence_ms = after(reply.first_sentence),
        released_ms = after(facts.stages.released),
        llm = reply.llm.as_deref().unwrap_or(""),
        prompt_tokens = prompt,
        completion_tokens = completion,
        tts_chars = reply.tts_chars,
        sentences = reply.spoken.len(),
        heard_chars = heard.chars().count(),
        filler = reply.filler,
        cost_micro_usd = cost,
        "turn"
    );
    cost
}
