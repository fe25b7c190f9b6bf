//! Scripted providers: an in-process [`SessionProviders`] for tests of the session and of
//! agent logic. No sockets, no threads: answers come from a script, delays are tokio sleeps
//! (so paused time runs them in no real time), and every request is logged for assertions.
//! An answer may call tools ([`Answer::tool_call`]): the calls stream in small pieces, like
//! a real server's.
//!
//! ```
//! use voice_agent::session::scripted::{ScriptedProviders, Answer};
//! let p = ScriptedProviders::new();
//! p.transcript("what time is it");
//! p.answer(Answer::text(["It is ", "noon."]));
//! assert!(p.chat_requests().is_empty());
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::providers::{ChatSource, SessionProviders, SpeechSource};
use crate::providers::{
    Call, Capability, ChatChunk, ChatItem, ChatMessage, Prompt, ProviderError, Role, ToolChoice,
    Transcription,
};

/// PCM samples (48 kHz) rendered per character of text: 60 ms, like a brisk speaker.
pub const SAMPLES_PER_CHAR: usize = 2_880;
/// Samples per chunk of scripted speech (20 ms).
const CHUNK: usize = 960;

/// One scripted LLM answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Streams these deltas, `gap` apart (the first one after `gap` too).
    Deltas {
        /// The text deltas.
        deltas: Vec<String>,
        /// Time before each delta.
        gap: Duration,
    },
    /// Streams these pieces (text, tool-call deltas), `gap` apart.
    Chunks {
        /// The pieces.
        chunks: Vec<ChatChunk>,
        /// Time before each piece.
        gap: Duration,
    },
    /// The request fails (e.g. every endpoint down → the session apologises).
    Fail(ProviderError),
    /// The stream starts but sends nothing, and fails with `error` after `after` (a stalled
    /// provider cut by its timeout or the turn's deadline).
    Stalled {
        /// How long it stays silent.
        after: Duration,
        /// How it ends.
        error: ProviderError,
    },
}

impl Answer {
    /// An answer streamed in these deltas with no delay.
    pub fn text<S: Into<String>>(deltas: impl IntoIterator<Item = S>) -> Self {
        Self::Deltas { deltas: deltas.into_iter().map(Into::into).collect(), gap: Duration::ZERO }
    }

    /// An answer streamed in these deltas, `gap` apart.
    pub fn paced<S: Into<String>>(deltas: impl IntoIterator<Item = S>, gap: Duration) -> Self {
        Self::Deltas { deltas: deltas.into_iter().map(Into::into).collect(), gap }
    }

    /// A call of tool `name` with `arguments`, streamed in pieces.
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Self::tool_calls([(name, arguments)])
    }

    /// Parallel tool calls, streamed in pieces (as the harness's scripted LLM streams them).
    pub fn tool_calls<'a>(calls: impl IntoIterator<Item = (&'a str, Value)>) -> Self {
        match crate::testing::Answer::tool_calls(calls).chunks() {
            Ok(chunks) => Self::Chunks { chunks, gap: Duration::ZERO },
            Err(e) => Self::Fail(e),
        }
    }

    /// Every LLM endpoint is down.
    pub fn unavailable() -> Self {
        Self::Fail(ProviderError::Unavailable {
            capability: Capability::Llm,
            detail: "scripted outage".into(),
        })
    }
}

#[derive(Debug, Default)]
struct Script {
    transcripts: VecDeque<Result<String, ProviderError>>,
    answers: VecDeque<Answer>,
    tts_down: bool,
    degraded: Option<String>,
    chats: Vec<SeenPrompt>,
    spoken: Vec<String>,
}

/// A chat request as the scripted LLM saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenPrompt {
    /// The system prompt.
    pub system: Option<String>,
    /// The conversation.
    pub items: Vec<ChatItem>,
    /// The names of the tools offered.
    pub tools: Vec<String>,
    /// Whether tools could be called.
    pub tool_choice: ToolChoice,
    /// A later step of a turn.
    pub follow_up: bool,
}

impl SeenPrompt {
    fn of(p: &Prompt<'_>) -> Self {
        Self {
            system: p.system.map(str::to_owned),
            items: p.items.to_vec(),
            tools: p.tools.iter().map(|t| t.name.clone()).collect(),
            tool_choice: p.tool_choice,
            follow_up: p.follow_up,
        }
    }

    /// The request as plain messages: the system prompt, then what users and the agent said
    /// (tool calls and results left out).
    pub fn messages(&self) -> Vec<ChatMessage> {
        let system = self.system.iter().map(|s| ChatMessage { role: Role::System, content: s.clone() });
        let items = self.items.iter().filter_map(|i| match i {
            ChatItem::System(t) => Some(ChatMessage { role: Role::System, content: t.clone() }),
            ChatItem::User(t) => Some(ChatMessage { role: Role::User, content: t.clone() }),
            ChatItem::Assistant(t) => Some(ChatMessage { role: Role::Assistant, content: t.clone() }),
            ChatItem::ToolCall { .. } | ChatItem::ToolOutput { .. } => None,
        });
        system.chain(items).collect()
    }
}

/// Providers that follow a script; cheap to clone (one shared script).
#[derive(Debug, Clone, Default)]
pub struct ScriptedProviders {
    script: Arc<Mutex<Script>>,
    /// Chat answers dropped unfinished after their call was cancelled.
    cancelled: Arc<AtomicUsize>,
}

impl ScriptedProviders {
    /// No answers scripted yet: transcriptions are empty, chats fail as unavailable.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next transcription returns `text`.
    pub fn transcript(&self, text: &str) {
        self.lock().transcripts.push_back(Ok(text.to_owned()));
    }

    /// The next transcription fails with `e`.
    pub fn transcript_fails(&self, e: ProviderError) {
        self.lock().transcripts.push_back(Err(e));
    }

    /// The next chat request gets `answer`.
    pub fn answer(&self, answer: Answer) {
        self.lock().answers.push_back(answer);
    }

    /// TTS down (`true`: every speak request fails as unavailable) or back up.
    pub fn set_tts_down(&self, down: bool) {
        self.lock().tts_down = down;
    }

    /// What [`SessionProviders::degraded_summary`] says.
    pub fn set_degraded(&self, summary: Option<&str>) {
        self.lock().degraded = summary.map(str::to_owned);
    }

    /// The messages of every chat request so far, in order (see [`SeenPrompt::messages`]).
    pub fn chat_requests(&self) -> Vec<Vec<ChatMessage>> {
        self.lock().chats.iter().map(SeenPrompt::messages).collect()
    }

    /// Every chat request so far, whole (tool calls, results, tools offered), in order.
    pub fn prompts(&self) -> Vec<SeenPrompt> {
        self.lock().chats.clone()
    }

    /// Chat answers hung up on: dropped before their end, their call cancelled (a barge-in,
    /// a preemptive reply discarded).
    pub fn cancelled_chats(&self) -> usize {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Every text sent to TTS so far, in order.
    pub fn spoken(&self) -> Vec<String> {
        self.lock().spoken.clone()
    }
}

/// `text` as scripted speech: [`SAMPLES_PER_CHAR`] samples per character, never silent.
pub fn speech_for(text: &str) -> Vec<i16> {
    vec![1_000; text.chars().count() * SAMPLES_PER_CHAR]
}

struct ScriptedChat {
    deltas: VecDeque<ChatChunk>,
    gap: Duration,
    first: Option<Duration>,
    stall: Option<(Duration, ProviderError)>,
    /// The call's token and the count of cancelled answers.
    hang_up: Option<(tokio_util::sync::CancellationToken, Arc<AtomicUsize>)>,
}

impl Drop for ScriptedChat {
    fn drop(&mut self) {
        let unfinished = !self.deltas.is_empty() || self.stall.is_some();
        if let Some((cancel, count)) = self.hang_up.take()
            && unfinished
            && cancel.is_cancelled()
        {
            count.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl ChatSource for ScriptedChat {
    fn next(&mut self) -> BoxFuture<'_, Option<Result<ChatChunk, ProviderError>>> {
        Box::pin(async move {
            if let Some((after, error)) = self.stall.take() {
                tokio::time::sleep(after).await;
                return Some(Err(error));
            }
            let delta = self.deltas.pop_front()?;
            tokio::time::sleep(self.gap).await;
            self.first.get_or_insert(self.gap);
            Some(Ok(delta))
        })
    }
    fn provider(&self) -> Arc<str> {
        Arc::from("scripted")
    }
    fn first_token_latency(&self) -> Option<Duration> {
        self.first
    }
    fn usage(&self) -> Option<(u32, u32)> {
        None
    }
}

struct ScriptedSpeech {
    pcm: VecDeque<Vec<i16>>,
}

impl SpeechSource for ScriptedSpeech {
    fn next(&mut self) -> BoxFuture<'_, Option<Result<Vec<i16>, ProviderError>>> {
        Box::pin(async move { self.pcm.pop_front().map(Ok) })
    }
    fn first_byte_latency(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl SessionProviders for ScriptedProviders {
    fn transcribe<'a>(
        &'a self,
        _call: &'a Call,
        _pcm: &'a [i16],
    ) -> BoxFuture<'a, Result<Transcription, ProviderError>> {
        let next = self.lock().transcripts.pop_front().unwrap_or_else(|| Ok(String::new()));
        Box::pin(async move {
            let text = next?;
            Ok(Transcription { text, provider: Arc::from("scripted"), latency: Duration::ZERO })
        })
    }

    fn chat<'a>(
        &'a self,
        call: &'a Call,
        prompt: &'a Prompt<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn ChatSource>, ProviderError>> {
        let hang_up = Some((call.cancel.clone(), self.cancelled.clone()));
        let answer = {
            let mut s = self.lock();
            s.chats.push(SeenPrompt::of(prompt));
            s.answers.pop_front().unwrap_or_else(Answer::unavailable)
        };
        Box::pin(async move {
            match answer {
                Answer::Deltas { deltas, gap } => {
                    let deltas = deltas.into_iter().map(ChatChunk::Text).collect();
                    Ok(Box::new(ScriptedChat { deltas, gap, first: None, stall: None, hang_up })
                        as Box<dyn ChatSource>)
                }
                Answer::Chunks { chunks, gap } => Ok(Box::new(ScriptedChat {
                    deltas: chunks.into(),
                    gap,
                    first: None,
                    stall: None,
                    hang_up,
                }) as Box<dyn ChatSource>),
                Answer::Stalled { after, error } => Ok(Box::new(ScriptedChat {
                    deltas: VecDeque::new(),
                    gap: Duration::ZERO,
                    first: None,
                    stall: Some((after, error)),
                    hang_up,
                }) as Box<dyn ChatSource>),
                Answer::Fail(e) => Err(e),
            }
        })
    }

    fn speak<'a>(
        &'a self,
        _call: &'a Call,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn SpeechSource>, ProviderError>> {
        let down = {
            let mut s = self.lock();
            if !s.tts_down {
                s.spoken.push(text.to_owned());
            }
            s.tts_down
        };
        Box::pin(async move {
            if down {
                return Err(ProviderError::Unavailable {
                    capability: Capability::Tts,
                    detail: "scripted outage".into(),
                });
            }
            let pcm = speech_for(text).chunks(CHUNK).map(<[i16]>::to_vec).collect();
            Ok(Box::new(ScriptedSpeech { pcm }) as Box<dyn SpeechSource>)
        })
    }

    fn is_available(&self, cap: Capability, _now: Instant) -> bool {
        cap != Capability::Tts || !self.lock().tts_down
    }

    fn degraded_summary(&self, _now: Instant) -> Option<String> {
        self.lock().degraded.clone()
    }
}
