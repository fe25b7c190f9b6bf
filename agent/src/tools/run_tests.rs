//! Running tool calls on paused time: parallel calls, every failure answered, cancellation,
//! bounded output, metrics and redacted logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::*;
use crate::core::tool_calls::CallError;
use crate::tools::{FunctionTool, NoArguments, Tool, ToolSet, ToolSetError};

/// A table booking.
#[derive(Deserialize, JsonSchema)]
struct Booking {
    /// How many people.
    people: u32,
    /// Optional time, "HH:MM".
    #[serde(default)]
    time: Option<String>,
}

fn call(id: &str, name: &str, args: Value) -> ToolCall {
    ToolCall { id: id.into(), name: name.into(), arguments: Ok(args) }
}

fn book() -> impl crate::tools::Tool {
    FunctionTool::new("book_table", "Books a table.", |_: ToolContext, b: Booking| async move {
        if b.people == 0 {
            return Err(format!("nobody to seat at {}", b.time.unwrap_or_default()));
        }
        Ok(json!({"booked": b.people}))
    })
}

async fn run(tools: &ToolSet, calls: &[ToolCall]) -> Vec<ToolResult> {
    let (ctx, _said) = ToolContext::detached("room", "alice");
    run_calls(tools, calls, &ctx, &RunOptions::default()).await
}

#[test]
fn the_schema_comes_from_the_argument_type() {
    let tool = book();
    let p = tool.parameters().clone();
    assert_eq!(p["type"], "object");
    assert_eq!(p["properties"]["people"]["description"], "How many people.");
    assert_eq!(p["required"], json!(["people"]));
    assert!(p.get("$schema").is_none() && p.get("title").is_none());
    let none = crate::tools::parameters_schema::<NoArguments>();
    assert_eq!(none["type"], "object");
    let tools = ToolSet::new().with(tool);
    assert_eq!(tools.to_openai()[0]["function"]["parameters"], p);
}

#[test]
fn a_bad_tool_set_is_reported_whole() {
    let tools = ToolSet::new()
        .with(book())
        .with(book())
        .with(FunctionTool::new("has space", "x", |_: ToolContext, _: NoArguments| async { "" }))
        .with(FunctionTool::new("unit", "", |_: ToolContext, _: ()| async { "" }));
    let errors = tools.validate().unwrap_err();
    assert_eq!(
        errors,
        [
            ToolSetError::Duplicate("book_table".into()),
            ToolSetError::BadName("has space".into()),
            ToolSetError::NotAnObject("unit".into()),
            ToolSetError::NoDescription("unit".into()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn results_text_json_and_failures() {
    let tools = ToolSet::new().with(book());
    let results = run(
        &tools,
        &[
            call("a", "book_table", json!({"people": 4})),
            call("b", "book_table", json!({"people": 0, "time": "19:00"})),
        ],
    )
    .await;
    assert_eq!((results[0].outcome, results[0].content.as_str()), (ToolOutcome::Ok, r#"{"booked":4}"#));
    assert_eq!(results[1].outcome, ToolOutcome::Failed);
    assert_eq!(results[1].content, "error: nobody to seat at 19:00");
    assert_eq!((results[1].call_id.as_str(), results[1].name.as_str()), ("b", "book_table"));
}

#[tokio::test(start_paused = true)]
async fn broken_unknown_and_mistyped_calls_are_answered_with_errors() {
    let tools = ToolSet::new().with(book());
    let broken =
        ToolCall { id: "x".into(), name: "book_table".into(), arguments: Err(CallError::NotAnObject) };
    let results = run(
        &tools,
        &[broken, call("y", "order_pizza", json!({})), call("z", "book_table", json!({"people": "four"}))],
    )
    .await;
    let outcomes: Vec<_> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [ToolOutcome::InvalidArguments, ToolOutcome::UnknownTool, ToolOutcome::InvalidArguments]
    );
    assert!(results[0].content.contains("must be a JSON object"), "{}", results[0].content);
    assert!(
        results[1].content.contains("no tool named \"order_pizza\"")
            && results[1].content.contains("book_table")
    );
    assert!(results[2].content.contains("invalid type"), "{}", results[2].content);
    // The LLM's invention is not a metric label.
    assert!(metrics().count("unknown", ToolOutcome::UnknownTool) >= 1);
    assert_eq!(metrics().count("order_pizza", ToolOutcome::UnknownTool), 0);
}

#[tokio::test(start_paused = true)]
async fn parallel_calls_run_at_once_and_a_panic_or_timeout_hurts_only_its_call() {
    let gate = Arc::new(Notify::new());
    let (g1, g2) = (gate.clone(), gate.clone());
    let tools = ToolSet::new()
        // `waiter` only finishes if `opener` runs while it waits: the calls run in parallel.
        .with(FunctionTool::new("waiter", "Waits.", move |_: ToolContext, _: NoArguments| {
            let g = g1.clone();
            async move {
                g.notified().await;
                "opened"
            }
        }))
        .with(FunctionTool::new("opener", "Opens.", move |_: ToolContext, _: NoArguments| {
            let g = g2.clone();
            async move {
                g.notify_one();
                "done"
            }
        }))
        .with(FunctionTool::new("boom", "Panics.", |_: ToolContext, _: NoArguments| async {
            if true {
                panic!("tool bug");
            }
            "never"
        }))
        .with(
            FunctionTool::new("slow", "Sleeps.", |_: ToolContext, _: NoArguments| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            })
            .timeout(Duration::from_secs(2)),
        );
    let calls: Vec<_> = ["waiter", "boom", "slow", "opener"].iter().map(|n| call(n, n, json!({}))).collect();
    let results = run(&tools, &calls).await;
    let got: Vec<_> = results.iter().map(|r| (r.name.as_str(), r.outcome)).collect();
    assert_eq!(
        got,
        [
            ("waiter", ToolOutcome::Ok),
            ("boom", ToolOutcome::Panicked),
            ("slow", ToolOutcome::TimedOut),
            ("opener", ToolOutcome::Ok)
        ]
    );
    assert_eq!(results[2].content, "error: no result within 2 s");
    assert!(metrics().count("boom", ToolOutcome::Panicked) >= 1);
}

#[tokio::test(start_paused = true)]
async fn barge_in_cancels_running_calls_and_drops_their_futures() {
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Notify::new());
    let (d, s) = (dropped.clone(), started.clone());
    let tools = ToolSet::new().with(FunctionTool::new(
        "search",
        "Searches.",
        move |ctx: ToolContext, _: NoArguments| {
            let (d, s) = (d.clone(), s.clone());
            async move {
                struct Guard(Arc<AtomicBool>);
                impl Drop for Guard {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::SeqCst);
                    }
                }
                let _g = Guard(d);
                ctx.say("Searching.");
                s.notify_one();
                std::future::pending::<()>().await;
                "never"
            }
        },
    ));
    let (tx, mut said) = tokio::sync::mpsc::channel(4);
    let cancel = tokio_util::sync::CancellationToken::new();
    let ctx = ToolContext::new(Arc::default(), Arc::from("alice"), tx, cancel.clone());
    let calls = [call("c1", "search", json!({})), call("c2", "search", json!({}))];
    let opts = RunOptions::default();
    let (results, ()) = tokio::join!(run_calls(&tools, &calls, &ctx, &opts), async {
        started.notified().await;
        assert_eq!(said.recv().await.as_deref(), Some("Searching."));
        cancel.cancel();
    });
    assert!(results.iter().all(|r| r.outcome == ToolOutcome::Cancelled), "{results:?}");
    assert_eq!(results.len(), 2);
    tokio::task::yield_now().await;
    assert!(dropped.load(Ordering::SeqCst), "an aborted tool's future is dropped");
}

#[tokio::test(start_paused = true)]
async fn huge_outputs_are_cut() {
    let tools =
        ToolSet::new().with(FunctionTool::new("dump", "Dumps.", |_: ToolContext, _: NoArguments| async {
            "é".repeat(100_000)
        }));
    let (ctx, _said) = ToolContext::detached("room", "alice");
    let opts = RunOptions { max_output_bytes: 1001, ..RunOptions::default() };
    let results = run_calls(&tools, &[call("a", "dump", json!({}))], &ctx, &opts).await;
    assert_eq!(results[0].outcome, ToolOutcome::Ok);
    assert!(results[0].content.len() < 1100);
    assert!(results[0].content.starts_with(&"é".repeat(500)) && results[0].content.ends_with("1001 bytes]"));
}

/// Log lines written while `f` runs.
async fn logs_of<F: std::future::Future>(f: F) -> String {
    use tracing::instrument::WithSubscriber;
    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let sub = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    f.with_subscriber(sub).await;
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn arguments_are_logged_only_when_enabled() {
    let tools = ToolSet::new().with(book());
    let calls = [call("a", "book_table", json!({"people": 3, "time": "secret-19:45"}))];
    let (ctx, _said) = ToolContext::detached("room", "alice");
    let quiet = logs_of(run_calls(&tools, &calls, &ctx, &RunOptions::default())).await;
    assert!(quiet.contains("tool call") && quiet.contains("<redacted>"), "{quiet}");
    assert!(!quiet.contains("secret-19:45"));
    let opts = RunOptions { log_arguments: true, ..RunOptions::default() };
    let loud = logs_of(run_calls(&tools, &calls, &ctx, &opts)).await;
    assert!(loud.contains("secret-19:45"), "{loud}");
}
