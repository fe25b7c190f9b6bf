//! One agent turn: the agent's answer ([`crate::agent::AgentRunner::user_turn`]: its hook,
//! then the LLM with tools) → sentences → TTS → the room's audio sink, with the agent's
//! caption paced with the audio ([`Captions`]) — or a fixed text (greeting, notice, apology).
//!
//! The answer's text goes to the sentence splitter as it streams; what is said while tools
//! run (a tool's own words, the tool filler) is spoken at once, after what the LLM said before
//! its calls. The runner's future runs beside the voice, its events relayed
//! ([`super::relay`]). The turn's tool calls and results are reported with the reply so the
//! session remembers them. A barge-in drops the answer, and with it every running tool.
//!
//! Each sentence goes to TTS as soon as the splitter completes it, and its audio is queued
//! while the next one is synthesised, so the first audio starts after the first sentence.
//! Nothing fails silently: no LLM → the configured apology; a limit → its sentence; no TTS →
//! the text goes out on `lk.chat` (and the transcript). Fixed texts are rendered once and
//! their PCM cached, so notices stay audible when TTS is down later.
//!
//! Never silent while waiting: if no answer audio has started by the turn's filler time
//! (`THINKING_NOTICE_SECS` after the user's speech ended, but never sooner than a short grace
//! after the reply may be heard: an answer about to come after a long wait for the user to go
//! on is not put behind it), the pre-rendered filler ("One moment.") is played once and the
//! answer still awaited; it is not the answer (no
//! first-audio report, so the agent stays "thinking", and it is left out of what the user
//! heard of the answer). A slow LLM that has sent words but no whole sentence
//! `FIRST_CLAUSE_SECS` after its first token has its first clause spoken already; with
//! `FIRST_WORDS` set, the first that many words go to TTS as soon as they have arrived (a slow
//! local LLM is heard a few tokens after its first, not a whole sentence after).
//!
//! While speech over the agent holds its audio ([`AudioSink::pause`], a possible barge-in),
//! the LLM's words still stream in but no new sentence goes to TTS until playback resumes: a
//! real interruption then costs no synthesis of what would never be heard.
//!
//! A preemptive reply ([`crate::core::turn::preempt`]) runs with a [`Hold`]: the LLM and the
//! first sentence's TTS go ahead, but nothing is played, captioned or sent (the filler
//! neither) before the session releases it; a reply with nothing to say waits too, so it
//! never ends before its turn is confirmed. Cancelled while held, it leaves no trace.
//!
//! The turn is cancelled by its [`Call`]'s token (barge-in, participant gone): what was
//! queued is then reported so the session can record what the user actually heard. The
//! moment the first audio packet leaves is watched inside the turn's own task (no task of
//! its own), so the session's `JoinSet` holds everything.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

use super::Event;
use super::captions::Captions;
use super::held::Hold;
use super::llm::SessionLlm;
use super::outcome::Outcome;
use super::providers::SessionProviders;
use super::relay::{Heard, RELAY_QUEUE, Relay};
use super::transcript::TOPIC_CHAT;
use crate::agent::{AgentRunner, ChatItem, ReplyEnd, ReplyFor, ReplyOptions, ReplySummary, UserTurn};
use crate::clock;
use crate::core::chat_item::close_unanswered;
use crate::core::sentences::{SentenceSplitter, SplitterConfig};
use crate::core::turn::TurnId;
use crate::livekit::job::JobInfo;
use crate::livekit::room::{AudioSink, TextStreamOptions, TextStreams};
use crate::providers::{Call, Capability, ProviderError};

/// A first clause shorter than this (characters) is not spoken on its own.
const MIN_CLAUSE_CHARS: usize = 12;
/// Fixed texts whose audio is kept at most.
const CACHE_ENTRIES: usize = 16;
/// Longest audio kept per fixed text (48 kHz samples: 30 s).
const CACHE_SAMPLES: usize = 48_000 * 30;

/// Rendered audio of fixed texts (greeting, notices), shared by a worker's sessions.
#[derive(Debug, Default)]
pub struct PcmCache {
    entries: Mutex<HashMap<String, Arc<Vec<i16>>>>,
}

impl PcmCache {
    fn get(&self, text: &str) -> Option<Arc<Vec<i16>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(text).cloned()
    }

    fn put(&self, text: &str, pcm: Vec<i16>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if pcm.is_empty() || pcm.len() > CACHE_SAMPLES || entries.len() >= CACHE_ENTRIES {
            return;
        }
        entries.insert(text.to_owned(), Arc::new(pcm));
    }

    /// Whether `text` has been rendered.
    pub fn contains(&self, text: &str) -> bool {
        self.get(text).is_some()
    }
}

/// Renders `texts` into the cache (best effort: a failure leaves them to be rendered on use).
pub async fn prerender(providers: &dyn SessionProviders, cache: &PcmCache, call: &Call, texts: &[String]) {
    for text in texts {
        let Ok(mut stream) = providers.speak(call, text).await else { return };
        let mut pcm = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => pcm.extend_from_slice(&c),
                Err(_) => return,
            }
        }
        cache.put(text, pcm);
    }
}

/// The session's agent, shared by its turns (one turn uses it at a time).
pub type SharedAgent = Arc<tokio::sync::Mutex<AgentRunner>>;

/// What an agent's answer to a user turn needs.
#[derive(Debug, Clone)]
pub struct AgentTurn {
    /// The agent.
    pub agent: SharedAgent,
    /// The conversation remembered so far, ending with the user's turn.
    pub history: Vec<ChatItem>,
    /// Added to the instructions for this turn (degraded service, several speakers).
    pub extra: String,
    /// The user's turn.
    pub turn: UserTurn,
    /// The job.
    pub job: Arc<JobInfo>,
    /// Tool loop settings.
    pub options: Arc<ReplyOptions>,
}

/// What a turn says.
#[derive(Debug, Clone)]
pub enum Script {
    /// The agent answers (hook, LLM, tools).
    Agent(AgentTurn),
    /// Speak this text (rendered audio is cached).
    Fixed(String),
}

/// Everything a turn uses.
#[derive(Clone)]
pub struct ReplyCtx {
    /// Providers.
    pub providers: Arc<dyn SessionProviders>,
    /// The room's voice.
    pub sink: AudioSink,
    /// The room's text streams.
    pub text: TextStreams,
    /// Fixed-text audio.
    pub cache: Arc<PcmCache>,
    /// Sentence splitting.
    pub splitter: SplitterConfig,
    /// Spoken when no LLM can answer.
    pub llm_unavailable: String,
    /// Said (from rendered audio only) when an answer is slow to start.
    pub filler: Option<String>,
    /// A slow LLM's first clause is spoken this long after its first token.
    pub first_clause_after: Option<Duration>,
    /// The reply's first this many words are spoken as soon as they have arrived, before
    /// their sentence ends (0: whole sentences only).
    pub first_words: usize,
    /// Where to report the first audio.
    pub events: mpsc::Sender<Event>,
}

/// How a turn went.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The turn.
    pub turn: TurnId,
    /// How it went, as far as the turn itself can tell (`Answered`, `Apology`, `Limited`,
    /// `TextOnly`, `Notice`); the session adds interruptions and the reason of fixed texts.
    pub outcome: Outcome,
    /// Each sentence played with its audio length (48 kHz samples).
    pub spoken: Vec<(String, u64)>,
    /// Everything the agent meant to say.
    pub text: String,
    /// Played samples when the turn began.
    pub baseline: u64,
    /// Cancelled (barge-in or participant gone).
    pub interrupted: bool,
    /// The LLM endpoint that answered.
    pub llm: Option<Arc<str>>,
    /// LLM time to first token.
    pub llm_ttft: Option<Duration>,
    /// TTS time to first byte of the first sentence.
    pub tts_ttfb: Option<Duration>,
    /// `(prompt, completion)` tokens.
    pub tokens: Option<(u32, u32)>,
    /// Characters sent to TTS.
    pub tts_chars: u64,
    /// When the first audio packet went out.
    pub first_audio: Option<Instant>,
    /// When the turn started (an answer: its LLM request).
    pub started: Option<Instant>,
    /// When the first sentence went to TTS.
    pub first_sentence: Option<Instant>,
    /// The filler was said before the answer.
    pub filler: bool,
    /// The tool calls and their results, in order, each call answered.
    pub tools: Vec<ChatItem>,
    /// LLM requests made (tool steps included).
    pub steps: usize,
    /// The agents the turn handed over to, in order.
    pub handoffs: Vec<String>,
}

/// When and how a turn may be heard.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// When an answer still without audio gets the filler.
    pub filler: Option<FillerTime>,
    /// A preemptive reply: nothing is heard before the session releases it.
    pub hold: Option<Hold>,
}

/// When the filler is due: at `at` (the user's speech end + `THINKING_NOTICE_SECS`), and
/// never sooner than `grace` after the reply may be heard (it started, or its hold was
/// released). After a long wait for the user to go on, the answer has that moment of its own
/// before the filler would go in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillerTime {
    /// Due this long after the user stopped…
    pub at: Instant,
    /// …and no sooner than this after the reply may be heard.
    pub grace: Duration,
}

/// Runs one turn to its end (played out) or until `call.cancel` fires. An answer still without
/// audio at its [`FillerTime`] gets the filler; one with a `timing.hold` waits for its release
/// before it is heard.
pub async fn run(
    ctx: ReplyCtx,
    turn: TurnId,
    script: Script,
    call: Call,
    segment: String,
    timing: Timing,
) -> Reply {
    let baseline = ctx.sink.state().played_samples;
    let audio_queued = Notify::new();
    // Where the answer's own audio starts in the sink (after a filler, if one is said).
    let answer_base = AtomicU64::new(baseline);
    let (captions, writer) = Captions::new(ctx.text.clone(), ctx.sink.clone(), segment);
    let mut writer = std::pin::pin!(writer);
    let started = clock::now();
    let filler = timing.filler.filter(|_| ctx.filler.is_some());
    let mut voice = Voice {
        ctx: &ctx,
        call: &call,
        reply: Reply {
            turn,
            baseline,
            outcome: Outcome::Answered,
            started: Some(started),
            ..Reply::default()
        },
        captions,
        text_only: Vec::new(),
        tts_down: false,
        queued: 0,
        audio_queued: &audio_queued,
        answer_base: &answer_base,
        filler_at: filler.map(|f| f.at.max(started + f.grace)),
        filler_grace: filler.map_or(Duration::ZERO, |f| f.grace),
        hold: timing.hold,
    };
    // Notes when the first packet actually leaves (the playout may still be busy).
    let first_audio = async {
        audio_queued.notified().await;
        ctx.sink.wait_played(answer_base.load(Ordering::Acquire) + 1).await;
        let at = clock::now();
        let _ = ctx.events.send(Event::AudioStarted { turn }).await;
        at
    };
    tokio::pin!(first_audio);
    let mut first = None;
    let cancelled = {
        let performed = voice.perform(script);
        tokio::pin!(performed);
        loop {
            tokio::select! {
                () = call.cancel.cancelled() => break true,
                () = &mut performed => break false,
                at = &mut first_audio, if first.is_none() => first = Some(at),
                // Writes words as they play; returns only after `done`.
                () = &mut writer => {}
            }
        }
    };
    if !cancelled && first.is_none() && voice.queued > 0 {
        // Played out: the first packet has left; take its moment.
        first = Some((&mut first_audio).await);
    }
    voice.reply.interrupted |= cancelled;
    voice.reply.first_audio = first;
    voice.captions.done(voice.reply.interrupted);
    writer.await;
    voice.finish().await
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A turn in progress.
struct Voice<'a> {
    ctx: &'a ReplyCtx,
    call: &'a Call,
    reply: Reply,
    /// The agent's transcript, paced with the audio.
    captions: Captions,
    text_only: Vec<String>,
    tts_down: bool,
    queued: u64,
    /// Signalled when the first audio of the turn is queued.
    audio_queued: &'a Notify,
    /// Played-samples mark where the answer's audio starts (moved on by a filler).
    answer_base: &'a AtomicU64,
    /// When the filler is due, until it is said or the answer has audio.
    filler_at: Option<Instant>,
    /// The answer's own moment before the filler, from when it may be heard.
    filler_grace: Duration,
    /// Held until the turn is confirmed (a preemptive reply), until released.
    hold: Option<Hold>,
}

impl Voice<'_> {
    async fn perform(&mut self, script: Script) {
        match script {
            Script::Fixed(text) => {
                self.reply.outcome = Outcome::Notice;
                self.say(&text, true).await;
            }
            Script::Agent(turn) => self.answer(turn).await,
        }
        // Even with nothing to say, a held reply does not end before its turn is confirmed.
        self.confirmed().await;
        // The turn lasts until its audio has been played.
        self.ctx.sink.wait_played(self.reply.baseline + self.queued).await;
    }

    async fn answer(&mut self, t: AgentTurn) {
        let ctx = self.ctx;
        let llm = SessionLlm::new(ctx.providers.clone(), self.call.clone());
        let mut runner = t.agent.lock().await;
        let mut chat = runner.chat(&t.extra, t.history);
        let who = ReplyFor {
            job: t.job,
            speaker: t.turn.speaker.clone(),
            cancel: self.call.cancel.clone(),
            follow_up: false,
        };
        let (relay, mut heard) = mpsc::channel(RELAY_QUEUE);
        let (model, chat, turn, options) = (&llm, &mut chat, &t.turn, t.options.as_ref());
        // The relay ends with the runner's future, and with it the events.
        let run = async move { runner.user_turn(model, chat, turn, &who, options, &mut Relay(relay)).await };
        tokio::pin!(run);
        let mut splitter = SentenceSplitter::new(ctx.splitter);
        let mut first_token: Option<Instant> = None;
        let mut clause_at = None;
        let mut summary = None;
        loop {
            tokio::select! {
                biased;
                event = heard.recv() => match event {
                    Some(event) => {
                        let text = matches!(event, Heard::Text(_));
                        self.hear(event, &mut splitter, &t.options.filler).await;
                        if text {
                            let first = *first_token.get_or_insert_with(clock::now);
                            clause_at = ctx.first_clause_after.filter(|_| self.said_nothing()).map(|after| first + after);
                            if self.said_nothing()
                                && let Some(words) = splitter.take_words(ctx.first_words)
                            {
                                clause_at = None;
                                self.say(&words, false).await;
                            }
                        }
                    }
                    None => break,
                },
                done = &mut run, if summary.is_none() => summary = Some(done),
                () = sleep_until(self.filler_due()) => self.say_filler().await,
                () = sleep_until(clause_at) => {
                    clause_at = None;
                    if let Some(clause) = splitter.take_clause(MIN_CLAUSE_CHARS) {
                        self.say(&clause, false).await;
                    }
                }
            }
        }
        if let Some(rest) = splitter.finish() {
            self.say(&rest, false).await;
        }
        let stats = llm.stats();
        self.reply.llm = stats.provider;
        self.reply.llm_ttft = stats.first_token;
        match summary {
            Some(summary) => self.answered(summary).await,
            None => self.reply.interrupted = true,
        }
    }

    /// One event of the answer: text to the splitter (sentences spoken as they complete),
    /// words said while tools run spoken at once, tool calls and results noted.
    async fn hear(&mut self, event: Heard, splitter: &mut SentenceSplitter, tool_filler: &str) {
        match event {
            Heard::Text(delta) => {
                self.reply.text.push_str(&delta);
                let mut sentences = Vec::new();
                splitter.push(&delta, &mut sentences);
                for s in sentences {
                    self.say(&s, false).await;
                }
            }
            Heard::Said(sentence) => {
                if let Some(rest) = splitter.finish() {
                    self.say(&rest, false).await;
                }
                self.say(&sentence, sentence == tool_filler).await;
            }
            Heard::Item(ChatItem::Assistant(_)) => {
                // One LLM step's words are complete: speak them before any tool runs.
                if let Some(rest) = splitter.finish() {
                    self.say(&rest, false).await;
                }
                if !self.reply.text.ends_with(char::is_whitespace) {
                    self.reply.text.push(' ');
                }
            }
            Heard::Item(item @ (ChatItem::ToolCall { .. } | ChatItem::ToolOutput { .. })) => {
                self.reply.tools.push(item)
            }
            Heard::Item(ChatItem::System(_) | ChatItem::User(_)) => {}
            Heard::Handoff(to) => self.reply.handoffs.push(to),
            // Cut mid-answer: what was said stands; the unfinished sentence is dropped.
            Heard::BrokeOff => *splitter = SentenceSplitter::new(self.ctx.splitter),
        }
    }

    /// How the answer ended: its cost noted; never silence (an apology when no words came).
    async fn answered(&mut self, summary: ReplySummary) {
        self.reply.steps = summary.steps;
        if summary.steps > 0 {
            let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            self.reply.tokens = Some((clamp(summary.tokens.0), clamp(summary.tokens.1)));
        }
        let answered = !self.reply.text.trim().is_empty();
        match summary.end {
            ReplyEnd::Interrupted => self.reply.interrupted = true,
            // A step after tools failed: what came before was no answer.
            ReplyEnd::Failed(e) if !answered || summary.tool_calls > 0 => self.fail(e).await,
            // Cut mid-answer: what was said stands; the unfinished sentence is dropped.
            ReplyEnd::Failed(e) => tracing::warn!(error = %e, "LLM answer broke off"),
            // Tools ran (or a handoff was refused) and no words came: never silence.
            ReplyEnd::StepLimit | ReplyEnd::Empty | ReplyEnd::HandedOff
                if !answered && summary.tool_calls > 0 =>
            {
                tracing::warn!("no words after the tool calls; apologising");
                let detail = "no answer after tool calls".into();
                self.fail(ProviderError::Unavailable { capability: Capability::Llm, detail }).await;
            }
            ReplyEnd::Answered | ReplyEnd::Empty | ReplyEnd::StepLimit | ReplyEnd::HandedOff => {}
        }
    }

    /// Nothing of the answer said yet (no audio queued, no text waiting).
    fn said_nothing(&self) -> bool {
        self.queued == 0 && self.reply.spoken.is_empty() && self.text_only.is_empty()
    }

    /// Awaits `fut` (TTS), meanwhile saying the filler when it is due.
    async fn with_filler<T>(&mut self, fut: impl Future<Output = T>) -> T {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                v = &mut fut => return v,
                () = sleep_until(self.filler_due()) => self.say_filler().await,
            }
        }
    }

    /// When the filler is due: not said yet, and no audio of the answer queued.
    fn filler_due(&self) -> Option<Instant> {
        self.filler_at.filter(|_| self.queued == 0)
    }

    /// Waits until the turn is confirmed, if this is a held reply (a cancellation drops the
    /// whole performance, this wait included), and returns when it was.
    async fn confirmed(&mut self) -> Option<Instant> {
        let released = match self.hold.as_mut() {
            Some(hold) => Some(hold.wait().await),
            None => None,
        };
        self.hold = None;
        released
    }

    /// The filler, from its rendered audio only (a TTS request now would be late too). It is
    /// not the answer: it moves the answer's start on, and does not count as first audio.
    async fn say_filler(&mut self) {
        // A held reply may be heard from its release: from then on it gets its moment, as a
        // reply started then would (the filler is due again after it, if still without audio).
        if let Some(released) = self.confirmed().await
            && self.filler_at.is_some_and(|at| at < released + self.filler_grace)
        {
            self.filler_at = Some(released + self.filler_grace);
            return;
        }
        self.filler_at = None;
        let Some(text) = self.ctx.filler.as_deref() else { return };
        let Some(pcm) = self.ctx.cache.get(text) else {
            tracing::debug!("the filler is not rendered yet; waiting without it");
            return;
        };
        // Captioned like the rest: it plays before any of the answer's audio.
        let n = pcm.len() as u64;
        self.captions.sentence(text, self.position());
        self.captions.length(n);
        self.reply.baseline += n;
        self.answer_base.fetch_add(n, Ordering::AcqRel);
        self.reply.filler = true;
        super::metrics::metrics().fillers.inc();
        let _ = self.ctx.sink.play(pcm.as_ref().clone()).await;
    }

    /// No answer: say why, never nothing.
    async fn fail(&mut self, e: ProviderError) {
        match e {
            ProviderError::Cancelled => self.reply.interrupted = true,
            ProviderError::Limited { sentence, .. } => {
                self.reply.outcome = Outcome::Limited;
                self.say(&sentence, true).await;
            }
            e => {
                tracing::warn!(error = %e, "no LLM answer; apologising");
                self.reply.outcome = Outcome::Apology;
                let text = self.ctx.llm_unavailable.clone();
                self.say(&text, true).await;
            }
        }
    }

    /// Speaks one sentence (text fallback if TTS cannot); `cache` renders it once for good.
    async fn say(&mut self, sentence: &str, cache: bool) {
        if let Some(pcm) = cache.then(|| self.ctx.cache.get(sentence)).flatten() {
            self.confirmed().await;
            let n = pcm.len() as u64;
            self.captions.sentence(sentence, self.position());
            self.captions.length(n);
            self.play(pcm.as_ref().clone()).await;
            self.reply.spoken.push((sentence.to_owned(), n));
            return;
        }
        if !self.tts_down {
            let ctx = self.ctx;
            ctx.sink.wait_unpaused().await;
            self.reply.first_sentence.get_or_insert_with(clock::now);
            match self.with_filler(ctx.providers.speak(self.call, sentence)).await {
                Ok(mut stream) => {
                    let mut n = 0u64;
                    let mut kept = cache.then(Vec::new);
                    while let Some(chunk) = self.with_filler(stream.next()).await {
                        match chunk {
                            Ok(pcm) => {
                                if n == 0 && !pcm.is_empty() {
                                    // A preemptive reply has its first audio ready here.
                                    self.confirmed().await;
                                    self.captions.sentence(sentence, self.position());
                                }
                                n += pcm.len() as u64;
                                if let Some(k) = kept.as_mut() {
                                    k.extend_from_slice(&pcm);
                                }
                                self.play(pcm).await;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "TTS stream broke off");
                                kept = None;
                                break;
                            }
                        }
                    }
                    if self.reply.tts_ttfb.is_none() {
                        self.reply.tts_ttfb = stream.first_byte_latency();
                    }
                    self.reply.tts_chars += sentence.chars().count() as u64;
                    if let Some(k) = kept {
                        self.ctx.cache.put(sentence, k);
                    }
                    if n > 0 {
                        self.captions.length(n);
                        self.reply.spoken.push((sentence.to_owned(), n));
                        return;
                    }
                }
                Err(ProviderError::Limited { sentence: why, .. }) => {
                    self.confirmed().await;
                    self.captions.text_only(&why, self.position());
                    self.text_only.push(why);
                }
                Err(ProviderError::Cancelled) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "no TTS; the answer goes out as text");
                    self.tts_down = true;
                }
            }
        }
        self.confirmed().await;
        self.captions.text_only(sentence, self.position());
        self.text_only.push(sentence.to_owned());
    }

    async fn play(&mut self, pcm: Vec<i16>) {
        if pcm.is_empty() {
            return;
        }
        if self.queued == 0 {
            self.audio_queued.notify_one();
        }
        self.queued += pcm.len() as u64;
        // A closed room ends the session anyway.
        let _ = self.ctx.sink.play(pcm).await;
    }

    /// Where the next queued audio will start, in the sink's played-sample count.
    fn position(&self) -> u64 {
        self.reply.baseline + self.queued
    }

    async fn finish(mut self) -> Reply {
        close_unanswered(&mut self.reply.tools);
        if !self.text_only.is_empty() && !self.reply.interrupted {
            if self.reply.spoken.is_empty() && self.reply.outcome == Outcome::Answered {
                self.reply.outcome = Outcome::TextOnly;
            }
            let text = self.text_only.join(" ");
            let _ = self.ctx.text.send(TOPIC_CHAT, &text, TextStreamOptions::default()).await;
        }
        if self.reply.text.is_empty() {
            self.reply.text = self.reply.spoken.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(" ");
        }
        self.reply
    }
}
