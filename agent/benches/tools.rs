//! Tool-call overhead of the agent loop: one answer with a tool step (stream the call in
//! pieces, reassemble and parse it, run the tool, add call and result to the history, ask
//! again) against a plain answer, both from an in-process scripted LLM, so only our own work
//! is measured. The difference is the cost of one tool step.
//!
//! `cargo bench -p voice-agent --bench tools`
//!
//! - `tools/plain answer`: one LLM step, text only, no tools offered.
//! - `tools/answer with one tool step`: a call to an instant tool, then the text answer.
//! - `tools/reassemble one call`: the streamed-deltas accumulator alone (12 pieces).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use voice_agent::agent::{ChatContext, ChatItem, ReplyEvent, ReplyFor, ReplyOptions, ReplySink, respond};
use voice_agent::core::tool_calls::{FunctionDelta, ToolCallAccumulator, ToolCallDelta, ToolCallLimits};
use voice_agent::testing::{Answer, ScriptedLlm};
use voice_agent::tools::{FunctionTool, ToolContext, ToolSet};

/// Arguments of the benchmark's tool.
#[derive(Deserialize, JsonSchema)]
struct Lookup {
    /// An order number.
    order: u32,
    /// Whose order.
    name: String,
}

/// Drops every event (the voice is not measured).
struct Discard;

impl ReplySink for Discard {
    async fn on_event(&mut self, event: ReplyEvent<'_>) {
        black_box(event);
    }
}

const ANSWER: &str = "Your order 1234 for Kim ships tomorrow morning, and it should arrive by Friday.";

fn chat() -> ChatContext {
    let mut c = ChatContext::new("You answer questions about orders in one short sentence.");
    for i in 0..6 {
        c.push(ChatItem::User(format!("question number {i} about an earlier order")));
        c.push(ChatItem::Assistant(format!("answer number {i}, short and spoken")));
    }
    c.push(ChatItem::User("Where is order 1234 for Kim?".into()));
    c
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let tools = ToolSet::new().with(FunctionTool::new(
        "lookup_order",
        "Finds an order.",
        |_: ToolContext, l: Lookup| async move {
            format!("order {} for {}: ships tomorrow, arrives Friday", l.order, l.name)
        },
    ));
    let none = ToolSet::new();
    let who = ReplyFor {
        job: Arc::default(),
        speaker: Arc::from("kim"),
        cancel: CancellationToken::new(),
        follow_up: false,
    };
    let opts = ReplyOptions::default();
    let mut g = c.benchmark_group("tools");
    g.bench_function("plain answer", |b| {
        b.iter_batched(
            || (ScriptedLlm::new().then(Answer::text(ANSWER)), chat()),
            |(llm, mut chat)| rt.block_on(respond(&llm, &mut chat, &none, &who, &opts, &mut Discard)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("answer with one tool step", |b| {
        b.iter_batched(
            || {
                let llm = ScriptedLlm::new()
                    .then(Answer::tool_call("lookup_order", json!({"order": 1234, "name": "Kim"})))
                    .then(Answer::text(ANSWER));
                (llm, chat())
            },
            |(llm, mut chat)| rt.block_on(respond(&llm, &mut chat, &tools, &who, &opts, &mut Discard)),
            BatchSize::SmallInput,
        )
    });
    let args = json!({"order": 1234, "name": "Kim", "note": "leave at the door"}).to_string();
    let mut deltas = vec![ToolCallDelta {
        index: Some(0),
        id: Some("call_1".into()),
        function: Some(FunctionDelta { name: Some("lookup_order".into()), arguments: None }),
    }];
    let chars: Vec<char> = args.chars().collect();
    for piece in chars.chunks(chars.len().div_ceil(11)) {
        let arguments = Some(piece.iter().collect());
        deltas.push(ToolCallDelta {
            index: Some(0),
            id: None,
            function: Some(FunctionDelta { name: None, arguments }),
        });
    }
    g.bench_function("reassemble one call", |b| {
        b.iter(|| {
            let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
            for d in &deltas {
                acc.push(black_box(d));
            }
            black_box(acc.finish())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
