//! The voice session's per-turn log line (`turn`, with `outcome`, `response_ms`, `stt_ms`,
//! `llm_ttft_ms`, `tts_ttfb_ms` and the stages' times after the end of speech), captured in-process by a `tracing` layer so a benchmark gets
//! each turn's stage timings exactly (the metrics' histograms only keep buckets).

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// One `turn` line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnRecord {
    /// `answered`, `apology`, `interrupted`, …
    pub outcome: String,
    /// End of user speech (as the agent's VAD saw it) → first agent audio packet sent.
    pub response_ms: Option<u64>,
    /// STT request → transcript.
    pub stt_ms: Option<u64>,
    /// LLM request → first token.
    pub llm_ttft_ms: Option<u64>,
    /// TTS request → first audio byte of the first sentence.
    pub tts_ttfb_ms: Option<u64>,
    /// End of speech → the VAD reported the utterance's end.
    pub heard_ms: Option<u64>,
    /// End of speech → the last transcript came in.
    pub transcribed_ms: Option<u64>,
    /// End of speech → the reply started (its LLM request; ahead of the turn's end if
    /// preemptive).
    pub reply_started_ms: Option<u64>,
    /// End of speech → the LLM's first token.
    pub first_token_ms: Option<u64>,
    /// End of speech → the first sentence went to TTS.
    pub first_sentence_ms: Option<u64>,
    /// End of speech → a reply prepared ahead was released (the end of the turn confirmed).
    pub released_ms: Option<u64>,
}

#[derive(Default)]
struct Visitor {
    is_turn: bool,
    record: TurnRecord,
}

impl Visit for Visitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        let slot = match field.name() {
            "response_ms" => &mut self.record.response_ms,
            "stt_ms" => &mut self.record.stt_ms,
            "llm_ttft_ms" => &mut self.record.llm_ttft_ms,
            "tts_ttfb_ms" => &mut self.record.tts_ttfb_ms,
            "heard_ms" => &mut self.record.heard_ms,
            "transcribed_ms" => &mut self.record.transcribed_ms,
            "reply_started_ms" => &mut self.record.reply_started_ms,
            "first_token_ms" => &mut self.record.first_token_ms,
            "first_sentence_ms" => &mut self.record.first_sentence_ms,
            "released_ms" => &mut self.record.released_ms,
            _ => return,
        };
        *slot = Some(value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "outcome" {
            value.clone_into(&mut self.record.outcome);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.is_turn = format!("{value:?}") == "turn",
            "outcome" => self.record.outcome = format!("{value:?}").trim_matches('"').to_owned(),
            _ => {}
        }
    }
}

/// The captured turns (shared with the layer).
#[derive(Clone, Default)]
pub struct TurnLog(Arc<Mutex<Vec<TurnRecord>>>);

impl TurnLog {
    /// Installs the capturing layer as the process's subscriber (with the usual stderr output
    /// filtered by `RUST_LOG`, default warnings only). Call once, before anything logs.
    pub fn install() -> Self {
        let log = Self::default();
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(log.clone())
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter))
            .try_init();
        log
    }

    /// Every turn so far.
    pub fn turns(&self) -> Vec<TurnRecord> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl<S: tracing::Subscriber> Layer<S> for TurnLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("voice_agent::session") {
            return;
        }
        let mut v = Visitor::default();
        event.record(&mut v);
        if v.is_turn
            && let Ok(mut turns) = self.0.lock()
        {
            turns.push(v.record);
        }
    }
}
