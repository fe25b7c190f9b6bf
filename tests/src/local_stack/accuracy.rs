//! The accuracy run: quiz conversations asked in real rooms on the local stack, each spoken
//! answer recorded by the client, transcribed back with the stack's Whisper and scored by its
//! expected words; with the agent's own transcript of each question (for the word error rate)
//! and the client's end of speech → first agent audio.
//!
//! One room per conversation (a fresh session and history); the questions of a conversation
//! are asked one after the other, each once the previous answer has ended.

use std::path::PathBuf;
use std::time::Duration;

use super::quiz::{Conversation, Question};
use super::room::{LocalRig, answer_wavs};
use super::score::{answers, word_errors};
use super::spoken::{Condition, question_wav};

/// One asked question and what came of it.
#[derive(Debug, Clone)]
pub struct Turn {
    /// Index of its conversation.
    pub conversation: usize,
    /// The question.
    pub question: Question,
    /// How it was heard.
    pub condition: Condition,
    /// What the agent's STT made of it (its `lk.transcription` of the user), if anything.
    pub heard_by_agent: String,
    /// The agent's own transcript of its answer.
    pub said: String,
    /// The recorded answer as the stack's Whisper hears it.
    pub heard_back: String,
    /// `heard_back` holds an expected word.
    pub right: bool,
    /// `said` holds an expected word.
    pub right_text: bool,
    /// Client side: last question frame sent → first loud agent frame, if an answer came.
    pub latency: Option<Duration>,
}

/// Asks `convs` in rooms named `<name>-<i>`, each question under `condition(k)` (k counts
/// questions across conversations), and scores every answer; `on_turn` sees each scored turn
/// as soon as its conversation is over. A question that got no answer counts as asked and
/// wrong.
pub async fn run(
    rig: &LocalRig,
    name: &str,
    convs: &[Conversation],
    condition: impl Fn(usize) -> Condition,
    mut on_turn: impl FnMut(&Turn),
) -> Vec<Turn> {
    let mut turns = Vec::new();
    let mut k = 0;
    for (ci, conv) in convs.iter().enumerate() {
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut conditions = Vec::new();
        for (qi, q) in conv.questions.iter().enumerate() {
            let path = rig.dir.join(format!("{name}-{ci}-{qi}.wav"));
            let c = condition(k);
            question_wav(q.text, conv.voice, conv.speed, c, k as u64 + 1, &path);
            paths.push(path);
            conditions.push(c);
            k += 1;
        }
        let room = format!("{name}-{ci}");
        // An unanswered question (the agent heard nothing it could answer) costs a minute and
        // counts as wrong; the conversation goes on with the next one.
        let args = ["--quiet-secs", "1.0", "--continue-unanswered", "--answer-timeout", "60"];
        let result = rig.converse(&room, &paths, &args).await;
        let asked = result["questions"].as_array().cloned().unwrap_or_default();
        let recorded = answer_wavs(&result);
        let agent = result["agent_identity"].as_str().unwrap_or_default().to_owned();
        for (qi, q) in conv.questions.iter().enumerate() {
            let mut turn = Turn {
                conversation: ci,
                question: *q,
                condition: conditions[qi],
                heard_by_agent: String::new(),
                said: String::new(),
                heard_back: String::new(),
                right: false,
                right_text: false,
                latency: None,
            };
            if let Some(a) = asked.get(qi) {
                let from = a["start"].as_f64().unwrap_or(f64::MAX);
                let until = asked.get(qi + 1).and_then(|n| n["start"].as_f64()).unwrap_or(f64::INFINITY);
                let (user, said) = texts_between(&result, &agent, from, until);
                turn.heard_by_agent = user;
                turn.said = said;
                if let (Some(s), Some(e)) = (a["answer_start"].as_f64(), a["end"].as_f64()) {
                    turn.latency = Some(Duration::from_secs_f64((s - e).max(0.0)));
                    if let Some(path) = recorded.get(qi).filter(|p| has_audio(p)) {
                        turn.heard_back = rig.hear(path).await;
                    }
                }
            }
            turn.right = answers(&turn.heard_back, q.expect);
            turn.right_text = answers(&turn.said, q.expect);
            on_turn(&turn);
            turns.push(turn);
        }
        for p in paths.iter().chain(&recorded) {
            let _ = std::fs::remove_file(p);
        }
    }
    turns
}

fn has_audio(path: &std::path::Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 44 + 4800)
}

/// The user's and the agent's transcripts that arrived in `[from, until)` (client clock).
fn texts_between(result: &serde_json::Value, agent: &str, from: f64, until: f64) -> (String, String) {
    let (mut user, mut said) = (Vec::new(), Vec::new());
    for t in crate::livekit::voice::texts(result, "lk.transcription") {
        let at = t["t"].as_f64().unwrap_or(f64::NAN);
        let Some(text) = t["text"].as_str().filter(|s| !s.trim().is_empty()) else { continue };
        if at >= from && at < until {
            if t["from"] == agent { said.push(text) } else { user.push(text) }
        }
    }
    (user.join(" "), said.join(" "))
}

/// Totals over a set of turns.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Questions asked.
    pub asked: usize,
    /// Answers heard right.
    pub right: usize,
    /// Answers right in the agent's own text.
    pub right_text: usize,
    /// Word errors in the agent's transcripts of the questions.
    pub word_errors: usize,
    /// Words in the questions.
    pub words: usize,
    /// Client-side latencies of the answered questions.
    pub latencies: Vec<Duration>,
}

impl Summary {
    /// Totals of `turns`.
    pub fn of<'a>(turns: impl IntoIterator<Item = &'a Turn>) -> Self {
        let mut s = Self::default();
        for t in turns {
            s.asked += 1;
            s.right += usize::from(t.right);
            s.right_text += usize::from(t.right_text);
            let (e, n) = word_errors(t.question.text, &t.heard_by_agent);
            s.word_errors += e;
            s.words += n;
            s.latencies.extend(t.latency);
        }
        s
    }

    /// Share of answers heard right (0–1).
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.asked.max(1) as f64
    }

    /// Word error rate of the question transcripts (0–1, can exceed 1).
    pub fn wer(&self) -> f64 {
        self.word_errors as f64 / self.words.max(1) as f64
    }

    /// Latency percentile `p` (0–1), nearest rank.
    pub fn latency(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies, p)
    }
}

/// The `p` (0–1) percentile of `values`, nearest rank; `None` when empty.
pub fn percentile(values: &[Duration], p: f64) -> Option<Duration> {
    let mut v = values.to_vec();
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied()
}
