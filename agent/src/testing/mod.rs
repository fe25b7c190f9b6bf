//! A test harness for agent logic: run an [`Agent`] turn by turn, text in, events out —
//! answers, tool calls with their arguments, tool results, sentences spoken while tools ran —
//! against a [`ScriptedLlm`] (in-process, no sockets) or any [`ChatModel`] (a real
//! OpenAI-compatible endpoint through the providers). It runs the same code as a voice
//! session — hooks, the tool loop, filler, barge-in, history — without audio or a LiveKit
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
pub mod scripted;

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use expect::{Expect, RunEvent, RunResult};
pub use scripted::{Answer, ScriptedLlm, SeenRequest};

use crate::agent::{
    Agent, ChatContext, ChatItem, ChatModel, ReplyEnd, ReplyEvent, ReplyFor, ReplyOptions, ReplySink,
    TurnAction, UserTurn, respond,
};
use crate::livekit::job::JobInfo;
use crate::tools::ToolSet;

/// An agent under test, with its conversation.
pub struct TestSession<A: Agent, M: ChatModel> {
    agent: A,
    llm: M,
    tools: ToolSet,
    chat: ChatContext,
    job: Arc<JobInfo>,
    speaker: Arc<str>,
    options: ReplyOptions,
    history_max_tokens: usize,
    entered: bool,
}

impl<A: Agent, M: ChatModel> TestSession<A, M> {
    /// A session of `agent` answered by `llm`, in room `test-room`, user `user`.
    ///
    /// # Panics
    /// When the agent's tools are not valid (bad or duplicate names, non-object schemas):
    /// the test names every mistake.
    pub fn new(agent: A, llm: M) -> Self {
        let tools = agent.tools();
        if let Err(errors) = tools.validate() {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("the agent's tools are not valid: {}", list.join("; "));
        }
        let chat = ChatContext::new(agent.instructions());
        let job = JobInfo { id: "AJ_test".into(), room: "test-room".into(), ..JobInfo::default() };
        Self {
            agent,
            llm,
            tools,
            chat,
            job: Arc::new(job),
            speaker: Arc::from("user"),
            options: ReplyOptions::default(),
            history_max_tokens: 2000,
            entered: false,
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

    /// The conversation so far.
    pub fn chat(&self) -> &ChatContext {
        &self.chat
    }

    /// The agent (to look at its state).
    pub fn agent(&self) -> &A {
        &self.agent
    }

    /// The LLM (to look at the requests it saw).
    pub fn llm(&self) -> &M {
        &self.llm
    }

    /// Starts the session as a voice session would: `on_enter`, then the greeting.
    pub async fn start(&mut self) -> RunResult {
        let mut result = RunResult::default();
        self.enter().await;
        if let Some(greeting) = self.agent.greeting() {
            self.chat.push(ChatItem::Assistant(greeting.clone()));
            result.events.push(RunEvent::Message(greeting));
        }
        result
    }

    async fn enter(&mut self) {
        if !self.entered {
            self.entered = true;
            self.agent.on_enter(&mut self.chat).await;
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
        self.chat.trim(self.history_max_tokens);
        self.chat.push(ChatItem::User(text.to_owned()));
        let turn = UserTurn { speaker: self.speaker.clone(), text: text.to_owned() };
        let mut result = RunResult::default();
        match self.agent.on_user_turn(&turn, &mut self.chat).await {
            TurnAction::Respond => {}
            TurnAction::Say(answer) => {
                self.chat.push(ChatItem::Assistant(answer.clone()));
                result.events.push(RunEvent::Message(answer));
                return result;
            }
            TurnAction::Ignore => return result,
        }
        let cancel = CancellationToken::new();
        let who = ReplyFor { job: self.job.clone(), speaker: self.speaker.clone(), cancel: cancel.clone() };
        let mut sink = Recorder { result, cancel, interrupt };
        let summary = respond(&self.llm, &mut self.chat, &self.tools, &who, &self.options, &mut sink).await;
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
}

impl<F: Fn(&RunEvent) -> bool + Send> ReplySink for Recorder<F> {
    async fn on_event(&mut self, event: ReplyEvent<'_>) {
        let recorded = match event {
            ReplyEvent::Text(_) => return,
            ReplyEvent::Said(s) => RunEvent::Said(s.to_owned()),
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
