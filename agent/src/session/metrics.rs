//! Per-turn metrics of voice sessions: the latency users feel (end of their speech → first
//! agent audio packet sent), the stages behind it, interruptions, tokens, characters, cost.
//!
//! Process-wide handles (like the LiveKit layer's), so sessions only touch atomics;
//! [`register_metrics`] hands clones to the registry `/metrics` serves. No label carries a
//! room or user.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of the turn counter: `outcome` is an [`Outcome::label`](super::Outcome::label)
/// (answered, interrupted, apology, text_only, limited, notice, greeting).
pub type OutcomeLabel = [(&'static str, &'static str); 1];

/// All session metrics.
#[derive(Debug, Clone)]
pub struct SessionMetrics {
    /// End of user speech → first agent audio packet sent, seconds.
    pub response: Histogram,
    /// STT request → transcript, seconds.
    pub stt: Histogram,
    /// LLM request → first token, seconds.
    pub llm_ttft: Histogram,
    /// TTS request → first audio byte (first sentence of a turn), seconds.
    pub tts_ttfb: Histogram,
    /// Agent turns by outcome.
    pub turns: Family<OutcomeLabel, Counter>,
    /// Barge-ins.
    pub interruptions: Counter,
    /// Pauses for a possible barge-in after which the agent resumed (false interruptions).
    pub resumed: Counter,
    /// Fillers said while an answer was slow to start.
    pub fillers: Counter,
    /// LLM prompt tokens.
    pub prompt_tokens: Counter,
    /// LLM completion tokens.
    pub completion_tokens: Counter,
    /// Characters sent to TTS.
    pub tts_characters: Counter,
    /// Estimated spend, micro-USD.
    pub cost_micro_usd: Counter,
    /// Sessions (jobs) running.
    pub sessions: Gauge,
}

impl SessionMetrics {
    fn new() -> Self {
        let latency = || Histogram::new([0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]);
        Self {
            response: latency(),
            stt: latency(),
            llm_ttft: latency(),
            tts_ttfb: latency(),
            turns: Family::default(),
            interruptions: Counter::default(),
            resumed: Counter::default(),
            fillers: Counter::default(),
            prompt_tokens: Counter::default(),
            completion_tokens: Counter::default(),
            tts_characters: Counter::default(),
            cost_micro_usd: Counter::default(),
            sessions: Gauge::default(),
        }
    }

    /// Counts one turn.
    pub fn turn(&self, outcome: &'static str) {
        self.turns.get_or_create(&[("outcome", outcome)]).inc();
    }
}

/// Observes a duration in seconds.
pub fn observe(h: &Histogram, d: Duration) {
    h.observe(d.as_secs_f64());
}

/// The process's session metrics.
pub fn metrics() -> &'static SessionMetrics {
    static M: OnceLock<SessionMetrics> = OnceLock::new();
    M.get_or_init(SessionMetrics::new)
}

/// Registers the session metrics (`voice_*`).
pub fn register_metrics(registry: &mut Registry) {
    let m = metrics().clone();
    registry.register(
        "voice_response_seconds",
        "End of user speech to the first agent audio packet sent",
        m.response,
    );
    registry.register("voice_stt_seconds", "STT request to transcript", m.stt);
    registry.register("voice_llm_ttft_seconds", "LLM request to first token", m.llm_ttft);
    registry.register("voice_tts_ttfb_seconds", "TTS request to first audio (first sentence)", m.tts_ttfb);
    registry.register("voice_turns", "Agent turns by outcome", m.turns);
    registry.register("voice_interruptions", "Barge-ins (user speech stopped the agent)", m.interruptions);
    registry.register(
        "voice_false_interruptions",
        "Speech over the agent that paused it but was no interruption (noise, too few words): resumed",
        m.resumed,
    );
    registry.register("voice_fillers", "Fillers said while an answer was slow to start", m.fillers);
    registry.register("voice_llm_prompt_tokens", "LLM prompt tokens", m.prompt_tokens);
    registry.register("voice_llm_completion_tokens", "LLM completion tokens", m.completion_tokens);
    registry.register("voice_tts_characters", "Characters sent to TTS", m.tts_characters);
    registry.register("voice_cost_micro_usd", "Estimated provider spend, micro-USD", m.cost_micro_usd);
    registry.register("voice_sessions", "Voice sessions running", m.sessions);
}
