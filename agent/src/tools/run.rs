//! Running one LLM step's tool calls: all at once, each within its time limit, panics caught,
//! cancelled together on barge-in — and every call answered. Whatever goes wrong (broken
//! arguments, a tool the LLM made up, a failure, a timeout, a panic) becomes an error result
//! the LLM can read and act on; nothing is left without a result and nothing crashes.

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinSet;

use super::context::ToolContext;
use super::metrics::metrics;
use super::outcome::ToolOutcome;
use super::set::ToolSet;
use super::tool::{ToolError, ToolOutput};
use crate::clock;
use crate::core::tool_calls::ToolCall;

/// How tool calls are run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// A call's time limit unless its tool sets one (10 s).
    pub timeout: Duration,
    /// Log each call's arguments (off: they are user data, logged as `<redacted>`).
    pub log_arguments: bool,
    /// Longest result handed to the LLM, bytes; longer ones are cut (16 KiB).
    pub max_output_bytes: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(10), log_arguments: false, max_output_bytes: 16 * 1024 }
    }
}

/// One call's result, as the LLM will read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The call's id.
    pub call_id: String,
    /// The tool's name as the LLM called it.
    pub name: String,
    /// How it ended.
    pub outcome: ToolOutcome,
    /// The text the LLM gets: the output, or the error explained.
    pub content: String,
    /// Call to result.
    pub took: Duration,
}

/// Runs `calls` in parallel and returns one result per call, in the calls' order.
/// `ctx.cancelled()` (barge-in) stops every call still running; they end `Cancelled`.
pub async fn run_calls(
    tools: &ToolSet,
    calls: &[ToolCall],
    ctx: &ToolContext,
    opts: &RunOptions,
) -> Vec<ToolResult> {
    let started = clock::now();
    let mut results: Vec<Option<ToolResult>> = vec![None; calls.len()];
    let mut tasks = JoinSet::new();
    let mut running = HashMap::new();
    for (i, call) in calls.iter().enumerate() {
        let tool = tools.get(&call.name);
        let early = match (&call.arguments, tool) {
            (Err(e), _) => Some((
                ToolOutcome::InvalidArguments,
                format!("error: {e}; call {} again with valid arguments", call.name),
            )),
            (Ok(_), None) => Some((ToolOutcome::UnknownTool, unknown(tools, &call.name))),
            (Ok(args), Some(tool)) => {
                let limit = tool.timeout().unwrap_or(opts.timeout);
                let fut = tool.call(ctx.for_call(&call.id), args.clone());
                let handle =
                    tasks.spawn(async move { tokio::time::timeout(limit, fut).await.map_err(|_| limit) });
                running.insert(handle.id(), i);
                None
            }
        };
        if let Some((outcome, content)) = early {
            results[i] = Some(finish(call, tool.is_some(), outcome, content, started, opts));
        }
    }
    let cancelled = ctx.cancel_token().clone();
    while !tasks.is_empty() {
        let joined = tokio::select! {
            biased;
            () = cancelled.cancelled() => {
                tasks.abort_all();
                break;
            }
            j = tasks.join_next_with_id() => j,
        };
        let Some(joined) = joined else { break };
        let (id, outcome, content) = match joined {
            Ok((id, Ok(Ok(out)))) => (id, ToolOutcome::Ok, bounded(&out, opts.max_output_bytes)),
            Ok((id, Ok(Err(ToolError::Failed(msg))))) => (id, ToolOutcome::Failed, format!("error: {msg}")),
            Ok((id, Ok(Err(e @ ToolError::InvalidArguments(_))))) => (
                id,
                ToolOutcome::InvalidArguments,
                format!("error: {e}; call again with arguments that match the schema"),
            ),
            Ok((id, Err(limit))) => {
                (id, ToolOutcome::TimedOut, format!("error: no result within {} s", limit.as_secs_f64()))
            }
            Err(e) if e.is_panic() => {
                (e.id(), ToolOutcome::Panicked, "error: the tool failed unexpectedly".to_owned())
            }
            Err(e) => (e.id(), ToolOutcome::Cancelled, CANCELLED.to_owned()),
        };
        if let Some(i) = running.remove(&id) {
            results[i] = Some(finish(&calls[i], true, outcome, content, started, opts));
        }
    }
    for (i, call) in calls.iter().enumerate() {
        if results[i].is_none() {
            let known = tools.get(&call.name).is_some();
            results[i] =
                Some(finish(call, known, ToolOutcome::Cancelled, CANCELLED.to_owned(), started, opts));
        }
    }
    results.into_iter().flatten().collect()
}

const CANCELLED: &str = "error: cancelled because the user interrupted";

fn unknown(tools: &ToolSet, name: &str) -> String {
    let names: Vec<_> = tools.names().collect();
    if names.is_empty() {
        format!("error: there is no tool named {name:?}; no tools are available")
    } else {
        format!("error: there is no tool named {name:?}; the tools are: {}", names.join(", "))
    }
}

/// The output as text, cut to `max` bytes on a character boundary.
fn bounded(out: &ToolOutput, max: usize) -> String {
    let text = out.content();
    if text.len() <= max {
        return text.into_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} [cut: the result was longer than {max} bytes]", &text[..cut])
}

/// The result of one call: counted, logged (arguments redacted unless enabled). Metrics and
/// logs name a tool only when it is `known` (registered): the LLM's inventions are `unknown`.
fn finish(
    call: &ToolCall,
    known: bool,
    outcome: ToolOutcome,
    content: String,
    started: std::time::Instant,
    opts: &RunOptions,
) -> ToolResult {
    let took = clock::now().saturating_duration_since(started);
    let label = if known { call.name.as_str() } else { "unknown" };
    metrics().record(label, outcome, took);
    let arguments = match (&call.arguments, opts.log_arguments) {
        (Ok(v), true) => v.to_string(),
        (Err(e), true) => e.to_string(),
        (_, false) => "<redacted>".to_owned(),
    };
    tracing::info!(
        tool = label,
        call_id = %call.id,
        outcome = outcome.as_str(),
        took_ms = took.as_millis() as u64,
        arguments,
        "tool call"
    );
    ToolResult { call_id: call.id.clone(), name: call.name.clone(), outcome, content, took }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
