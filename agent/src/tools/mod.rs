//! Function tools: typed async functions the LLM can call while it answers.
//!
//! A tool is a name, a description, a JSON schema of its arguments and an async function.
//! [`FunctionTool::new`] builds one from a closure whose argument type derives
//! `serde::Deserialize` and `schemars::JsonSchema` (the schema, doc comments included, is
//! what the LLM sees) and whose result is text, JSON or a `Result` of either
//! ([`IntoToolOutput`]). A [`ToolContext`] tells the tool which room, speaker and job it
//! serves, lets it say something while it works and tells it when the user interrupted.
//!
//! ```
//! # async fn demo() {
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use serde_json::json;
//! use voice_agent::core::tool_calls::ToolCall;
//! use voice_agent::tools::{FunctionTool, RunOptions, ToolContext, ToolOutcome, ToolSet, run_calls};
//!
//! /// A table booking.
//! #[derive(Deserialize, JsonSchema)]
//! struct Booking {
//!     /// How many people.
//!     people: u32,
//! }
//!
//! let tools = ToolSet::new().with(FunctionTool::new(
//!     "book_table",
//!     "Books a table for tonight.",
//!     |ctx: ToolContext, b: Booking| async move {
//!         ctx.say("One moment, I'm checking the book.");
//!         if b.people > 8 { Err("we seat at most 8 people") } else { Ok(format!("Booked for {}.", b.people)) }
//!     },
//! ));
//! let (ctx, _said) = ToolContext::detached("room", "alice");
//! let call = ToolCall { id: "call_1".into(), name: "book_table".into(), arguments: Ok(json!({"people": 4})) };
//! let results = run_calls(&tools, &[call], &ctx, &RunOptions::default()).await;
//! assert_eq!((results[0].outcome, results[0].content.as_str()), (ToolOutcome::Ok, "Booked for 4."));
//! # }
//! ```
//!
//! - [`tool`]: [`Tool`], [`FunctionTool`], [`ToolOutput`], [`ToolError`].
//! - [`set`]: [`ToolSet`] — the tools by name, validated, as the request's `tools` array.
//! - [`context`]: what a running tool knows and can do, [`ToolContext`].
//! - [`run`]: [`run_calls`] — one LLM step's calls in parallel, time limits, panics caught,
//!   cancellation, every call answered ([`ToolResult`]); [`outcome`]: how it ended ([`ToolOutcome`]).
//! - [`metrics`]: `voice_tool_calls_total{tool,outcome}`, `voice_tool_duration_seconds{tool}`.
//!
//! The streamed `tool_calls` of an LLM answer are reassembled by
//! [`crate::core::tool_calls`].

pub mod context;
pub mod metrics;
pub mod outcome;
pub mod run;
pub mod set;
pub mod tool;

pub use context::ToolContext;
pub use metrics::register_metrics;
pub use outcome::ToolOutcome;
pub use run::{RunOptions, ToolResult, run_calls};
pub use set::{ToolSet, ToolSetError};
pub use tool::{FunctionTool, IntoToolOutput, NoArguments, Tool, ToolError, ToolOutput, parameters_schema};
