//! A test harness for agent logic: run an [`Agent`] turn by turn, text in, events out —
//! answers, tool calls with their arguments, tool results, sentences spoken while tools ran,
//! handoffs to other agents —
//! against a [`ScriptedLlm`] (in-process, no sockets) or any [`ChatModel`] (a real
//! OpenAI-compatible endpoint through the providers). It runs the same code as a voice
//! session ([`AgentRunner`]: hooks, the tool loop, filler, barge-in, handoffs, history) —
//! without audio or a LiveKit
//! server, so tests are deterministic and fast: use `#[tokio::test(start_paused = true)]` and
//! slow tools cost no real time.
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use serde_json::json;
//! use voice_agent::agent::Agent;
//! use voice_agent::testing::{Answer, ScriptedLlm, TestSession};
//! use voice_agent::tools::{FunctionTool, ToolContext, ToolSet};
//!
//! /// Arguments of `book_table`.
//! #[derive(Deserialize, JsonSchema)]
//! struct Booking {
//!     /// How many people.
//!     people: u32,
//! }
//!
//! struct FrontDesk;
//! impl Agent for FrontDesk {
//!     fn instructions(&self) -> String {
//!         "You book tables.".into()
//!     }
//!     fn tools(&self) -> ToolSet {
//!         ToolSet::new().with(FunctionTool::new("book_table", "Books a table.", |_: ToolContext, b: Booking| async move {
//!             format!("booked for {}", b.people)
//!         }))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let llm = ScriptedLlm::new()
//!     .then(Answer::tool_call("book_table", json!({"people": 4})))
//!     .then_with(|req| Answer::text(format!("Done, {}.", req.last_tool_output().unwrap_or_default())));
//! let mut session = TestSession::new(FrontDesk, llm);
//! let result = session.run("A table for four, please.").await;
//! let mut expect = result.expect();
//! expect.next_event().is_function_call("book_table").with_arguments(json!({"people": 4}));
//! expect.next_event().is_function_output("book_table").is_ok().containing("booked for 4");
//! expect.next_event().is_message().containing("booked for 4");
//! expect.no_more_events();
//! # }
//! ```
//!
//! - [`scripted`]: [`ScriptedLlm`] and its [`Answer`]s; it records every request.
//! - [`expect`]: [`RunResult`], [`RunEvent`] and the assertions.

pub mod expect;
#[cfg(test)]
mod runner_tests;
pub mod scripted;

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use expect::{Expect, RunEvent, RunResult};
pub use scripted::{Answer, ScriptedLlm, SeenRequest};

use crate::agent::{
    Agent, AgentRunner, ChatContext, ChatItem, ChatModel, ReplyEnd, ReplyEvent, ReplyFor, ReplyOptions,
    ReplySink, UserTurn,
};
use crate::livekit::job::JobInfo;

/// An agent under test, with its conversation.
pub struct TestSession<A: Agent, M: ChatModel> {
    runner: AgentRunner,
    llm: M,
    /// What the conversation remembers, oldest first.
    history: ChatContext,
    job: Arc<JobInfo>,
    speaker: Arc<str>,
    options: ReplyOptions,
    history_max_tokens: usize,
    entered: bool,
    agent: std::marker::PhantomData<fn() -> A>,
}

impl<A: Agent, M: ChatModel> TestSession<A, M> {
    /// A session of `agent` answered by `llm`, in room `test-room`, user `user`.
    ///
    /// # Panics
    /// When the agent's tools are not valid (bad or duplicate names, non-object schemas):
    /// the test names every mistake.
    pub fn new(agent: A, llm: M) -> Self {
        let runner = AgentRunner::new(Box::new(agent)).unwrap_or_else(|e| panic!("{e}"));
        let job = JobInfo { id: "AJ_test".into(), room: "test-room".into(), ..JobInfo::default() };
        Self {
            runner,
            llm,
            history: ChatContext::new(""),
            job: Arc::new(job),
            speaker: Arc::from("user"),
            options: ReplyOptions::default(),
            history_max_tokens: 2000,
            entered: false,
            agent: std::marker::PhantomData,
        }
    }

    /// The job as dispatched (metadata, participant) — what a real session would get.
    pub fn with_job(mut self, job: JobInfo) -> Self {
        self.job = Arc::new(job);
        self
    }

    /// Tool-loop settings (step limit, filler, tool time limits).
    pub fn with_options(mut self, options: ReplyOptions) -> Self {
        self.options = options;
        self
    }

    /// The conversation as the next turn would send it: the active agent's instructions, what
    /// its `on_enter` seeded, and what was said, called and returned so far.
    pub fn chat(&self) -> ChatContext {
        self.runner.conversation(self.history.items().iter().cloned())
    }

    /// The agent the session started with (to look at its state).
    ///
    /// # Panics
    /// After a handoff to an agent of another type; see [`TestSession::active_agent`].
    pub fn agent(&self) -> &A {
        self.runner.agent_as::<A>().unwrap_or_else(|| {
            panic!("the active agent is {}, not the one the session started with", self.runner.name())
        })
    }

    /// The name of the agent that answers now (changes with handoffs).
    pub fn active_agent(&self) -> String {
        self.runner.name()
    }

    /// The LLM (to look at the requests it saw).
    pub fn llm(&self) -> &M {
        &self.llm
    }

    /// Starts the session as a voice session would: `on_enter`, then the greeting.
    pub async fn start(&mut self) -> RunResult {
        let mut result = RunResult::default();
        self.enter().await;
        if let Some(greeting) = self.runner.greeting() {
            self.history.push(ChatItem::Assistant(greeting.clone()));
            result.events.push(RunEvent::Message(greeting));
        }
        result
    }

    async fn enter(&mut self) {
        if !self.entered {
            self.entered = true;
            self.runner.enter().await;
        }
    }

    /// One user turn: `text` in, what the agent did out.
    pub async fn run(&mut self, text: &str) -> RunResult {
        self.run_until(text, |_| false).await
    }

    /// One user turn in which the user barges in as soon as an event matches `interrupt`
    /// (e.g. while a tool runs: `|e| matches!(e, RunEvent::FunctionCall { .. })`).
    pub async fn run_until(&mut self, text: &str, interrupt: impl Fn(&RunEvent) -> bool + Send) -> RunResult {
        self.enter().await;
        self.history.trim(self.history_max_tokens);
        self.history.push(ChatItem::User(text.to_owned()));
        let mut chat = self.runner.chat("", self.history.items().iter().cloned());
        let turn = UserTurn { speaker: self.speaker.clone(), text: text.to_owned() };
        let cancel = CancellationToken::new();
        let who = ReplyFor {
            job: self.job.clone(),
            speaker: self.speaker.clone(),
            cancel: cancel.clone(),
            follow_up: false,
        };
        let mut sink = Recorder { result: RunResult::default(), cancel, interrupt, remembered: Vec::new() };
        let summary =
            self.runner.user_turn(&self.llm, &mut chat, &turn, &who, &self.options, &mut sink).await;
        self.history.items_mut().append(&mut sink.remembered);
        let mut result = sink.result;
        result.interrupted = matches!(summary.end, ReplyEnd::Interrupted);
        if let ReplyEnd::Failed(e) = summary.end {
            result.error = Some(e);
        }
        result
    }
}

/// Records what an answer does, and barges in when told to.
struct Recorder<F> {
    result: RunResult,
    cancel: CancellationToken,
    interrupt: F,
    /// Items the conversation keeps.
    remembered: Vec<ChatItem>,
}

impl<F: Fn(&RunEvent) -> bool + Send> ReplySink for Recorder<F> {
    async fn on_event(&mut self, event: ReplyEvent<'_>) {
        if let ReplyEvent::Item(item) = event {
            self.remembered.push(item.clone());
        }
        let recorded = match event {
            ReplyEvent::Text(_) | ReplyEvent::BrokeOff => return,
            ReplyEvent::Said(s) => RunEvent::Said(s.to_owned()),
            ReplyEvent::Handoff(to) => RunEvent::Handoff { to: to.to_owned() },
            ReplyEvent::Item(ChatItem::Assistant(t)) => RunEvent::Message(t.clone()),
            ReplyEvent::Item(ChatItem::ToolCall { name, arguments, .. }) => RunEvent::FunctionCall {
                name: name.clone(),
                arguments: serde_json::from_str(arguments).unwrap_or(Value::Null),
            },
            ReplyEvent::Item(ChatItem::ToolOutput { name, content, is_error, .. }) => {
                RunEvent::FunctionOutput { name: name.clone(), content: content.clone(), is_error: *is_error }
            }
            ReplyEvent::Item(ChatItem::System(_) | ChatItem::User(_)) => return,
        };
        if (self.interrupt)(&recorded) {
            self.cancel.cancel();
        }
        self.result.events.push(recorded);
    }
}
