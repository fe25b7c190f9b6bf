//! Voice session settings: prompt, greeting, turn-taking, history budget, deadlines, the
//! sentences spoken when a provider is down, and the tool loop (time limits, filler, steps).

use std::time::Duration;

use crate::agent::ReplyOptions;
use crate::core::away::{AwayConfig, DEFAULT_CHECK_IN, DEFAULT_GOODBYE};
use crate::core::sentences::SplitterConfig;
use crate::core::turn::TurnConfig;
use crate::env::EnvReader;

/// Default system prompt: short spoken answers (the text is read aloud).
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a friendly voice assistant in a live audio call. \
Answer in one to three short spoken sentences. Use plain words: no lists, markdown, emoji or code.";
/// Default greeting.
pub const DEFAULT_GREETING: &str = "Hello! How can I help you today?";
/// Default apology when no LLM can answer.
pub const DEFAULT_LLM_UNAVAILABLE: &str = "I'm sorry, I can't think of an answer right now because my language service is unavailable. Please try again in a moment.";
/// Default filler, said once per turn when the answer is slow to start.
pub const DEFAULT_THINKING_FILLER: &str = "One moment.";
/// The answer's own moment before the filler once it may be heard (at most
/// `THINKING_NOTICE_SECS`): after a long wait for the user to go on, an answer about to come is
/// not put behind the filler.
pub const FILLER_GRACE: Duration = Duration::from_secs(1);
/// Default window for a barge-in to yield words before the agent resumes.
pub const DEFAULT_FALSE_INTERRUPTION: Duration = Duration::from_secs(2);
/// Default notice when no STT can transcribe.
pub const DEFAULT_STT_UNAVAILABLE: &str = "I'm sorry, I can't understand speech right now because my transcription service is unavailable. Please try again in a moment.";

/// Everything a voice session is tuned with.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// The LLM's system prompt (`SYSTEM_PROMPT`).
    pub system_prompt: String,
    /// Spoken when the first participant arrives (`GREETING`; `GREETING_ENABLED=false` turns
    /// it off).
    pub greeting: Option<String>,
    /// Endpointing delay, barge-in threshold, false interruptions (`FALSE_INTERRUPTION_SECS`,
    /// 2 here; 0: a barge-in stops the agent at once), `INTERRUPT_MIN_WORDS` (0) and
    /// preemptive replies (`PREEMPTIVE_GENERATION`).
    pub turn: TurnConfig,
    /// A quiet user: `USER_AWAY_SECS` (0: no check-in), `USER_AWAY_LEAVE_SECS` (0: never
    /// leaves), `USER_AWAY_MESSAGE`, `USER_AWAY_GOODBYE`.
    pub away: AwayConfig,
    /// Token budget of the history sent with each request (`HISTORY_MAX_TOKENS`, 2000).
    pub history_max_tokens: usize,
    /// Deadline of one turn (`TURN_DEADLINE_SECS`, 30): no provider response starts after it,
    /// and none keeps the turn waiting past it (see [`crate::core::wait_budget`]).
    pub turn_deadline: Duration,
    /// Spoken when every LLM is down (`LLM_UNAVAILABLE_MESSAGE`).
    pub llm_unavailable_message: String,
    /// Spoken when every STT is down (`STT_UNAVAILABLE_MESSAGE`).
    pub stt_unavailable_message: String,
    /// Sentence splitting (`SENTENCE_MAX_CHARS`, 180).
    pub splitter: SplitterConfig,
    /// The tool loop: `TOOL_TIMEOUT_SECS` (10), `TOOL_FILLER_SECS` (1; 0 = no filler),
    /// `TOOL_FILLER`, `TOOL_MAX_STEPS` (3), `TOOL_LOG_ARGUMENTS` (false).
    pub tool_loop: ReplyOptions,
    /// With no answer audio this long after the user's speech ended, the filler is said (once
    /// per turn) and the answer still awaited (`THINKING_NOTICE_SECS`, 2.5; 0: never); never
    /// sooner than [`FILLER_GRACE`] after the answer may be heard.
    pub thinking_notice: Option<Duration>,
    /// The filler (`THINKING_FILLER`, "One moment."), rendered ahead like the notices.
    pub thinking_filler: String,
    /// When the LLM has sent its first words but no whole sentence this long after, the first
    /// clause (up to a comma, colon, semicolon or dash) is spoken already (`FIRST_CLAUSE_SECS`,
    /// 0.5; 0: wait for whole sentences).
    pub first_clause_after: Option<Duration>,
    /// The first this many words of each answer are spoken as soon as they have arrived, the
    /// rest by sentences (`FIRST_WORDS`, 0: whole sentences only). For a slow LLM (local, a
    /// few tokens a second … tens) the first audio comes a whole sentence sooner, at the cost
    /// of a break in the first sentence's intonation; `scripts/dev` sets 4 for the local LLM.
    pub first_words: usize,
    /// When the last user has left, the session ends after this long unless someone comes
    /// back (`LEAVE_GRACE_SECS`, 0: at once).
    pub leave_grace: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            system_prompt: DEFAULT_SYSTEM_PROMPT.to_owned(),
            greeting: Some(DEFAULT_GREETING.to_owned()),
            turn: TurnConfig {
                false_interruption: Some(DEFAULT_FALSE_INTERRUPTION),
                ..TurnConfig::default()
            },
            away: AwayConfig::default(),
            history_max_tokens: 2000,
            turn_deadline: Duration::from_secs(30),
            llm_unavailable_message: DEFAULT_LLM_UNAVAILABLE.to_owned(),
            stt_unavailable_message: DEFAULT_STT_UNAVAILABLE.to_owned(),
            splitter: SplitterConfig::default(),
            tool_loop: ReplyOptions::default(),
            thinking_notice: Some(Duration::from_millis(2500)),
            thinking_filler: DEFAULT_THINKING_FILLER.to_owned(),
            first_clause_after: Some(Duration::from_millis(500)),
            first_words: 0,
            leave_grace: Duration::ZERO,
        }
    }
}

impl SessionConfig {
    /// Reads `SYSTEM_PROMPT`, `GREETING`, `GREETING_ENABLED` (true), `ENDPOINTING_DELAY_SECS`
    /// (0.5), `INTERRUPT_MIN_SPEECH_SECS` (0.5), `FALSE_INTERRUPTION_SECS` (2),
    /// `INTERRUPT_MIN_WORDS` (0), `PREEMPTIVE_GENERATION` (true), `USER_AWAY_SECS` (0),
    /// `USER_AWAY_LEAVE_SECS` (0), `USER_AWAY_MESSAGE`, `USER_AWAY_GOODBYE`, `HISTORY_MAX_TOKENS` (2000),
    /// `TURN_DEADLINE_SECS` (30), `LLM_UNAVAILABLE_MESSAGE`, `STT_UNAVAILABLE_MESSAGE`,
    /// `SENTENCE_MAX_CHARS` (180), `THINKING_NOTICE_SECS` (2.5), `THINKING_FILLER`,
    /// `FIRST_CLAUSE_SECS` (0.5), `FIRST_WORDS` (0), `LEAVE_GRACE_SECS` (0), and the tool loop's
    /// `TOOL_TIMEOUT_SECS` (10), `TOOL_FILLER_SECS` (1), `TOOL_FILLER`, `TOOL_MAX_STEPS` (3) and
    /// `TOOL_LOG_ARGUMENTS` (false). Texts set to an empty value count as unset (the default),
    /// so the greeting is turned off with its own flag; a zero delay turns its feature off (a
    /// zero leave grace ends the session at once).
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = Self::default();
        let system_prompt = env.string("SYSTEM_PROMPT", &d.system_prompt);
        let greeting = env.string("GREETING", DEFAULT_GREETING);
        let greeting_enabled = env.flag("GREETING_ENABLED", true);
        let turn = TurnConfig {
            endpointing_delay: env.seconds("ENDPOINTING_DELAY_SECS", d.turn.endpointing_delay, 0.0, 10.0),
            interrupt_min_speech: env.seconds(
                "INTERRUPT_MIN_SPEECH_SECS",
                d.turn.interrupt_min_speech,
                0.05,
                10.0,
            ),
            // Set from `TURN_DETECTION` and its settings (`smart_turn::config`).
            smart: None,
            false_interruption: nonzero(env.seconds(
                "FALSE_INTERRUPTION_SECS",
                DEFAULT_FALSE_INTERRUPTION,
                0.0,
                60.0,
            )),
            interrupt_min_words: env.ranged("INTERRUPT_MIN_WORDS", d.turn.interrupt_min_words, 0, 20),
            preemptive: env.flag("PREEMPTIVE_GENERATION", d.turn.preemptive),
        };
        let away = AwayConfig {
            check_in_after: env.seconds("USER_AWAY_SECS", d.away.check_in_after, 0.0, 86_400.0),
            leave_after: env.seconds("USER_AWAY_LEAVE_SECS", d.away.leave_after, 0.0, 86_400.0),
            check_in: env.string("USER_AWAY_MESSAGE", DEFAULT_CHECK_IN),
            goodbye: env.string("USER_AWAY_GOODBYE", DEFAULT_GOODBYE),
        };
        Self {
            system_prompt,
            greeting: greeting_enabled.then_some(greeting),
            turn,
            away,
            history_max_tokens: env.ranged("HISTORY_MAX_TOKENS", d.history_max_tokens, 50, 1_000_000),
            turn_deadline: env.seconds("TURN_DEADLINE_SECS", d.turn_deadline, 1.0, 600.0),
            llm_unavailable_message: env.string("LLM_UNAVAILABLE_MESSAGE", DEFAULT_LLM_UNAVAILABLE),
            stt_unavailable_message: env.string("STT_UNAVAILABLE_MESSAGE", DEFAULT_STT_UNAVAILABLE),
            splitter: SplitterConfig {
                max_chars: env.ranged("SENTENCE_MAX_CHARS", d.splitter.max_chars, 40, 2000),
                ..d.splitter
            },
            tool_loop: tool_loop(env, d.tool_loop),
            thinking_notice: nonzero(env.seconds(
                "THINKING_NOTICE_SECS",
                Duration::from_millis(2500),
                0.0,
                60.0,
            )),
            thinking_filler: env.string("THINKING_FILLER", DEFAULT_THINKING_FILLER),
            first_clause_after: nonzero(env.seconds(
                "FIRST_CLAUSE_SECS",
                Duration::from_millis(500),
                0.0,
                60.0,
            )),
            first_words: env.ranged("FIRST_WORDS", d.first_words, 0, 50),
            leave_grace: env.seconds("LEAVE_GRACE_SECS", d.leave_grace, 0.0, 3600.0),
        }
    }
}

/// The tool loop's settings.
fn tool_loop(env: &mut EnvReader, d: ReplyOptions) -> ReplyOptions {
    let filler_after = env.seconds("TOOL_FILLER_SECS", d.filler_after.unwrap_or_default(), 0.0, 60.0);
    let mut tools = d.tools.clone();
    tools.timeout = env.seconds("TOOL_TIMEOUT_SECS", d.tools.timeout, 0.1, 600.0);
    tools.log_arguments = env.flag("TOOL_LOG_ARGUMENTS", d.tools.log_arguments);
    ReplyOptions {
        max_tool_steps: env.ranged("TOOL_MAX_STEPS", d.max_tool_steps, 0, 20),
        filler_after: nonzero(filler_after),
        filler: env.string("TOOL_FILLER", &d.filler),
        tools,
        limits: d.limits,
    }
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (SessionConfig, Vec<String>) {
        let mut env = EnvReader::from_pairs(pairs);
        let c = SessionConfig::from_env(&mut env);
        (c, env.errors().iter().map(|e| e.var.clone()).collect())
    }

    #[test]
    fn defaults_and_values() {
        let (c, errs) = read(&[]);
        assert!(errs.is_empty());
        assert_eq!(c, SessionConfig::default());
        assert_eq!(c.turn.endpointing_delay, Duration::from_millis(500));
        let (c, errs) = read(&[
            ("GREETING_ENABLED", "false"),
            ("ENDPOINTING_DELAY_SECS", "0.3"),
            ("SYSTEM_PROMPT", "Be brief."),
            ("STT_UNAVAILABLE_MESSAGE", "I can't hear."),
            ("LEAVE_GRACE_SECS", "2.5"),
            ("PREEMPTIVE_GENERATION", "false"),
        ]);
        assert_eq!(c.leave_grace, Duration::from_millis(2500));
        assert!(!c.turn.preemptive);
        assert!(SessionConfig::default().turn.preemptive, "on by default");
        assert!(errs.is_empty());
        assert_eq!((c.greeting, c.system_prompt.as_str()), (None, "Be brief."));
        assert_eq!(c.turn.endpointing_delay, Duration::from_millis(300));
        assert_eq!(c.stt_unavailable_message, "I can't hear.");
        assert_eq!(c.thinking_notice, Some(Duration::from_millis(2500)));
        let (c, errs) = read(&[
            ("THINKING_NOTICE_SECS", "0"),
            ("THINKING_FILLER", "Hmm, let me see."),
            ("FIRST_CLAUSE_SECS", "1.5"),
            ("FIRST_WORDS", "4"),
        ]);
        assert!(errs.is_empty());
        assert_eq!((c.thinking_notice, c.thinking_filler.as_str()), (None, "Hmm, let me see."));
        assert_eq!(c.first_clause_after, Some(Duration::from_millis(1500)));
        assert_eq!(c.first_words, 4);
        assert_eq!(c.turn.false_interruption, Some(DEFAULT_FALSE_INTERRUPTION));
        assert_eq!(c.away.check_in_after, Duration::ZERO, "off unless set");
        let (c, errs) = read(&[
            ("FALSE_INTERRUPTION_SECS", "0"),
            ("INTERRUPT_MIN_WORDS", "2"),
            ("USER_AWAY_SECS", "20"),
            ("USER_AWAY_LEAVE_SECS", "40"),
            ("USER_AWAY_MESSAGE", "Still with me?"),
        ]);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!((c.turn.false_interruption, c.turn.interrupt_min_words), (None, 2));
        assert_eq!(
            (c.away.check_in_after, c.away.leave_after, c.away.check_in.as_str()),
            (Duration::from_secs(20), Duration::from_secs(40), "Still with me?")
        );
        assert_eq!(c.away.goodbye, DEFAULT_GOODBYE);
        let (c, _) = read(&[("GREETING", "Hi there."), ("SYSTEM_PROMPT", "  ")]);
        assert_eq!(c.greeting.as_deref(), Some("Hi there."));
        assert_eq!(c.system_prompt, DEFAULT_SYSTEM_PROMPT, "an empty value means the default");
    }

    #[test]
    fn tool_loop_settings() {
        let (c, errs) = read(&[
            ("TOOL_TIMEOUT_SECS", "2.5"),
            ("TOOL_FILLER_SECS", "0"),
            ("TOOL_MAX_STEPS", "5"),
            ("TOOL_LOG_ARGUMENTS", "true"),
            ("TOOL_FILLER", "Hold on."),
        ]);
        assert!(errs.is_empty(), "{errs:?}");
        let t = c.tool_loop;
        assert_eq!(
            (t.tools.timeout, t.filler_after, t.max_tool_steps),
            (Duration::from_millis(2500), None, 5)
        );
        assert!(t.tools.log_arguments);
        assert_eq!(t.filler, "Hold on.");
        let (c, _) = read(&[("TOOL_FILLER_SECS", "1.5")]);
        assert_eq!(c.tool_loop.filler_after, Some(Duration::from_millis(1500)));
        let (_, errs) = read(&[("TOOL_MAX_STEPS", "99"), ("TOOL_TIMEOUT_SECS", "0")]);
        assert_eq!(errs, ["TOOL_TIMEOUT_SECS", "TOOL_MAX_STEPS"]);
    }

    #[test]
    fn every_mistake_is_named() {
        let (_, errs) = read(&[
            ("GREETING_ENABLED", "maybe"),
            ("ENDPOINTING_DELAY_SECS", "-1"),
            ("INTERRUPT_MIN_SPEECH_SECS", "x"),
            ("HISTORY_MAX_TOKENS", "0"),
            ("TURN_DEADLINE_SECS", "0"),
            ("SENTENCE_MAX_CHARS", "5"),
            ("THINKING_NOTICE_SECS", "-1"),
            ("FIRST_CLAUSE_SECS", "soon"),
            ("FIRST_WORDS", "many"),
            ("LEAVE_GRACE_SECS", "-1"),
            ("FALSE_INTERRUPTION_SECS", "x"),
            ("INTERRUPT_MIN_WORDS", "-1"),
            ("USER_AWAY_SECS", "-5"),
            ("PREEMPTIVE_GENERATION", "sometimes"),
        ]);
        assert_eq!(
            errs,
            [
                "GREETING_ENABLED",
                "ENDPOINTING_DELAY_SECS",
                "INTERRUPT_MIN_SPEECH_SECS",
                "FALSE_INTERRUPTION_SECS",
                "INTERRUPT_MIN_WORDS",
                "PREEMPTIVE_GENERATION",
                "USER_AWAY_SECS",
                "HISTORY_MAX_TOKENS",
                "TURN_DEADLINE_SECS",
                "SENTENCE_MAX_CHARS",
                "THINKING_NOTICE_SECS",
                "FIRST_CLAUSE_SECS",
                "FIRST_WORDS",
                "LEAVE_GRACE_SECS"
            ]
        );
    }
}
