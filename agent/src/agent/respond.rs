//! One agent answer with tools: ask the LLM, speak its text as it streams, run the tool calls
//! it makes (in parallel), feed their results back and ask again — up to a step limit, after
//! which the LLM must answer in words. A tool step that takes longer than the filler delay
//! gets a spoken filler ("One moment, please.") unless a tool already said something; the
//! user never sits in silence. A barge-in stops the LLM and every running tool. A tool that
//! hands the conversation to another agent ([`crate::tools::ToolContext::hand_off`]) ends
//! the answer after its step ([`ReplyEnd::HandedOff`]); the caller switches agents
//! ([`super::runner`]).
//!
//! Every call and result goes into the [`ChatContext`] (the history), and every item, text
//! delta and spoken sentence goes to a [`ReplySink`] — the session's voice, or the test
//! harness's event log.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::chat::{ChatContext, ChatItem};
use super::handoff::Handoff;
use super::model::{ChatChunk, ChatModel, ChatRequest, ToolChoice};
use crate::core::tool_calls::{ToolCallAccumulator, ToolCallLimits};
use crate::livekit::job::JobInfo;
use crate::providers::ProviderError;
use crate::tools::context::SAY_QUEUE;
use crate::tools::{RunOptions, ToolContext, ToolSet, run_calls};

/// The spoken filler by default.
pub const DEFAULT_FILLER: &str = "One moment, please.";

/// How an answer with tools runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyOptions {
    /// LLM steps that may call tools; the step after them must answer in words (3).
    pub max_tool_steps: usize,
    /// Tool time after which the filler is spoken (`None`: never; 1 s).
    pub filler_after: Option<Duration>,
    /// The filler sentence.
    pub filler: String,
    /// Time limits, output bounds and logging of tool calls.
    pub tools: RunOptions,
    /// Bounds on one answer's streamed tool calls.
    pub limits: ToolCallLimits,
}

impl Default for ReplyOptions {
    fn default() -> Self {
        Self {
            max_tool_steps: 3,
            filler_after: Some(Duration::from_secs(1)),
            filler: DEFAULT_FILLER.to_owned(),
            tools: RunOptions::default(),
            limits: ToolCallLimits::default(),
        }
    }
}

/// What an answer produces, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplyEvent<'a> {
    /// A piece of the answer's text as it streams (to speak at once).
    Text(&'a str),
    /// A sentence to speak now that is not the LLM's answer: the filler, or what a tool said.
    Said(&'a str),
    /// An item added to the conversation (an answer, a tool call, a tool result).
    Item(&'a ChatItem),
    /// A tool handed the conversation to the agent of this name.
    Handoff(&'a str),
    /// The LLM's stream broke off mid-answer: the words since the last whole sentence are
    /// not to be spoken (the item that follows still records them).
    BrokeOff,
}

/// Where an answer goes.
pub trait ReplySink: Send {
    /// Takes one event (speaking may wait for the voice).
    fn on_event(&mut self, event: ReplyEvent<'_>) -> impl Future<Output = ()> + Send;
}

/// How an answer ended.
#[derive(Debug, Clone)]
pub enum ReplyEnd {
    /// The LLM answered in words.
    Answered,
    /// The LLM said nothing and called nothing.
    Empty,
    /// The LLM still called tools after the step limit (those calls were not run).
    StepLimit,
    /// Barge-in: stopped.
    Interrupted,
    /// A tool handed the conversation to another agent ([`ReplySummary::handoff`]).
    HandedOff,
    /// The LLM failed before saying anything in this step.
    Failed(ProviderError),
}

/// An answer's end and cost.
#[derive(Debug)]
pub struct ReplySummary {
    /// How it ended.
    pub end: ReplyEnd,
    /// LLM requests made.
    pub steps: usize,
    /// Tool calls run.
    pub tool_calls: usize,
    /// `(prompt, completion)` tokens over all steps, as reported.
    pub tokens: (u64, u64),
    /// The agent a tool handed over to ([`ReplyEnd::HandedOff`]).
    pub handoff: Option<Handoff>,
}

/// Who the answer is for.
#[derive(Debug, Clone)]
pub struct ReplyFor {
    /// The job.
    pub job: Arc<JobInfo>,
    /// The participant whose turn it answers.
    pub speaker: Arc<str>,
    /// Barge-in.
    pub cancel: CancellationToken,
    /// The answer continues a turn (after a handoff): its first request is a follow-up
    /// step too, charged tokens but no turn.
    pub follow_up: bool,
}

/// Answers the conversation in `chat` (its last item is usually the user's turn).
pub async fn respond<M, S>(
    model: &M,
    chat: &mut ChatContext,
    tools: &ToolSet,
    who: &ReplyFor,
    opts: &ReplyOptions,
    sink: &mut S,
) -> ReplySummary
where
    M: ChatModel + ?Sized,
    S: ReplySink,
{
    let mut summary = ReplySummary::empty();
    let (say, mut said) = mpsc::channel(SAY_QUEUE);
    let ctx = ToolContext::new(who.job.clone(), who.speaker.clone(), say, who.cancel.child_token());
    let cancel = &who.cancel;
    let mut tool_steps = 0;
    loop {
        let tool_choice = if tool_steps < opts.max_tool_steps { ToolChoice::Auto } else { ToolChoice::None };
        summary.steps += 1;
        let follow_up = who.follow_up || summary.steps > 1;
        let request = ChatRequest { chat, tools, tool_choice, follow_up };
        let mut stream = tokio::select! {
            biased;
            () = cancel.cancelled() => return summary.ending(ReplyEnd::Interrupted),
            s = model.chat(request) => match s {
                Ok(s) => s,
                Err(e) if e.is_cancelled() => return summary.ending(ReplyEnd::Interrupted),
                Err(e) => return summary.ending(ReplyEnd::Failed(e)),
            },
        };
        let mut text = String::new();
        let mut acc = ToolCallAccumulator::new(opts.limits);
        let mut broke = None;
        loop {
            let chunk = tokio::select! {
                biased;
                () = cancel.cancelled() => None,
                c = stream.next() => c,
            };
            match chunk {
                None => break,
                Some(Ok(ChatChunk::Text(t))) if t.is_empty() => {}
                Some(Ok(ChatChunk::Text(t))) => {
                    text.push_str(&t);
                    sink.on_event(ReplyEvent::Text(&t)).await;
                }
                Some(Ok(ChatChunk::ToolCall(d))) => acc.push(&d),
                Some(Ok(ChatChunk::Usage { prompt, completion })) => {
                    summary.tokens.0 += u64::from(prompt);
                    summary.tokens.1 += u64::from(completion);
                }
                Some(Err(e)) => {
                    broke = Some(e);
                    break;
                }
            }
        }
        drop(stream);
        if broke.is_some() && !text.trim().is_empty() {
            sink.on_event(ReplyEvent::BrokeOff).await;
        }
        if !text.trim().is_empty() {
            push(chat, sink, ChatItem::Assistant(text.trim().to_owned())).await;
        }
        if cancel.is_cancelled() {
            return summary.ending(ReplyEnd::Interrupted);
        }
        if let Some(e) = broke {
            // Cut mid-answer: what was said stands; unfinished tool calls are not run.
            if text.trim().is_empty() {
                return summary.ending(ReplyEnd::Failed(e));
            }
            tracing::warn!(error = %e, "LLM answer broke off");
            return summary.ending(ReplyEnd::Answered);
        }
        if acc.dropped() > 0 {
            tracing::warn!(
                dropped = acc.dropped(),
                "more parallel tool calls than allowed; extra ones ignored"
            );
        }
        let calls = acc.finish();
        if calls.is_empty() {
            let end = if text.trim().is_empty() { ReplyEnd::Empty } else { ReplyEnd::Answered };
            return summary.ending(end);
        }
        if tool_choice == ToolChoice::None {
            return summary.ending(ReplyEnd::StepLimit);
        }
        tool_steps += 1;
        summary.tool_calls += calls.len();
        for c in &calls {
            let item = ChatItem::ToolCall {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments_for_history(),
            };
            push(chat, sink, item).await;
        }
        let results = {
            let run = run_calls(tools, &calls, &ctx, &opts.tools);
            tokio::pin!(run);
            let filler = sleep_or_never(opts.filler_after);
            tokio::pin!(filler);
            let mut spoke = false;
            loop {
                tokio::select! {
                    r = &mut run => break r,
                    Some(s) = said.recv() => {
                        spoke = true;
                        sink.on_event(ReplyEvent::Said(&s)).await;
                    }
                    () = &mut filler, if !spoke => {
                        spoke = true;
                        sink.on_event(ReplyEvent::Said(&opts.filler)).await;
                    }
                }
            }
        };
        while let Ok(s) = said.try_recv() {
            sink.on_event(ReplyEvent::Said(&s)).await;
        }
        for r in results {
            let item = ChatItem::ToolOutput {
                call_id: r.call_id,
                name: r.name,
                content: r.content,
                is_error: r.outcome.is_error(),
            };
            push(chat, sink, item).await;
        }
        if cancel.is_cancelled() {
            return summary.ending(ReplyEnd::Interrupted);
        }
        if let Some(handoff) = ctx.take_handoff() {
            sink.on_event(ReplyEvent::Handoff(&handoff.name())).await;
            summary.handoff = Some(handoff);
            return summary.ending(ReplyEnd::HandedOff);
        }
    }
}

impl ReplySummary {
    /// Nothing answered yet: no steps, calls or tokens.
    pub(crate) fn empty() -> Self {
        Self { end: ReplyEnd::Empty, steps: 0, tool_calls: 0, tokens: (0, 0), handoff: None }
    }

    fn ending(mut self, end: ReplyEnd) -> Self {
        self.end = end;
        self
    }
}

async fn push<S: ReplySink>(chat: &mut ChatContext, sink: &mut S, item: ChatItem) {
    sink.on_event(ReplyEvent::Item(&item)).await;
    chat.push(item);
}

async fn sleep_or_never(after: Option<Duration>) {
    match after {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
