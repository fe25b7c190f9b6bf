//! Tests of the agent runner's handoffs, written with the harness as a developer would (they
//! live here, beside the harness, so that `agent` never imports `testing`).

use serde_json::json;

use crate::agent::{Agent, PromptAgent};
use crate::testing::{Answer, RunEvent, ScriptedLlm, TestSession};
use crate::tools::{FunctionTool, NoArguments, ToolContext, ToolSet};

/// Hands callers to `Billing` (no greeting: it answers at once) or to a greeter.
struct Reception;

/// Billing: its own instructions and tool.
struct Billing;

impl Agent for Billing {
    fn instructions(&self) -> String {
        "You handle billing.".into()
    }
    fn tools(&self) -> ToolSet {
        ToolSet::new().with(FunctionTool::new(
            "balance",
            "The balance.",
            |_: ToolContext, _: NoArguments| async { "12 euros" },
        ))
    }
}

impl Agent for Reception {
    fn instructions(&self) -> String {
        "You are the reception.".into()
    }
    fn tools(&self) -> ToolSet {
        ToolSet::new()
            .with(FunctionTool::new(
                "to_billing",
                "Transfer to billing.",
                |ctx: ToolContext, _: NoArguments| async move {
                    ctx.hand_off(Billing);
                    "transferred"
                },
            ))
            .with(FunctionTool::new(
                "to_greeter",
                "Transfer to a greeter.",
                |ctx: ToolContext, _: NoArguments| async move {
                    ctx.hand_off(PromptAgent::new("You greet.", Some("Hello from the greeter.".into())));
                    "transferred"
                },
            ))
    }
}

#[tokio::test(start_paused = true)]
async fn a_handoff_switches_instructions_and_tools_and_the_new_agent_answers() {
    let llm = ScriptedLlm::new()
        .then(Answer::tool_call("to_billing", json!({})))
        .then(Answer::tool_call("balance", json!({})))
        .then_with(|r| Answer::text(format!("Your balance is {}.", r.last_tool_output().unwrap_or("?"))));
    let mut s = TestSession::new(Reception, llm);
    let result = s.run("what do I owe").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("to_billing");
    expect.next_event().is_function_output("to_billing").is_ok();
    expect.next_event().is_handoff("Billing");
    expect.next_event().is_function_call("balance");
    expect.next_event().is_function_output("balance").containing("12 euros");
    expect.next_event().is_message().containing("12 euros");
    expect.no_more_events();
    assert_eq!(s.active_agent(), "Billing");
    let requests = s.llm().requests();
    assert_eq!(requests[0].tools, ["to_billing", "to_greeter"]);
    assert_eq!(requests[1].chat.instructions(), "You handle billing.");
    assert_eq!(requests[1].tools, ["balance"]);
    assert_eq!(s.chat().instructions(), "You handle billing.", "the next turn goes to billing too");
}

#[tokio::test(start_paused = true)]
async fn a_new_agent_with_a_greeting_says_it_and_the_llm_is_not_asked_again() {
    let llm = ScriptedLlm::new().then(Answer::tool_call("to_greeter", json!({})));
    let mut s = TestSession::new(Reception, llm);
    let result = s.run("hello").await;
    assert!(matches!(result.events.get(2), Some(RunEvent::Handoff { to }) if to == "assistant"));
    assert_eq!(result.events.last(), Some(&RunEvent::Message("Hello from the greeter.".into())));
    assert_eq!(s.llm().requests().len(), 1);
    assert_eq!(s.active_agent(), "assistant");
}

#[tokio::test(start_paused = true)]
async fn agents_handing_back_and_forth_stop_at_the_limit() {
    /// Always hands over to another of itself.
    struct PingPong;
    impl Agent for PingPong {
        fn instructions(&self) -> String {
            "ping".into()
        }
        fn tools(&self) -> ToolSet {
            ToolSet::new().with(FunctionTool::new(
                "again",
                "Again.",
                |ctx: ToolContext, _: NoArguments| async move {
                    ctx.hand_off(PingPong);
                    "again"
                },
            ))
        }
    }
    let mut llm = ScriptedLlm::new();
    for _ in 0..10 {
        llm = llm.then(Answer::tool_call("again", json!({})));
    }
    let mut s = TestSession::new(PingPong, llm.clone());
    let result = s.run("go").await;
    let handoffs = result.events.iter().filter(|e| matches!(e, RunEvent::Handoff { .. })).count();
    assert_eq!(handoffs, crate::agent::runner::MAX_HANDOFFS_PER_TURN + 1, "the last one is refused");
    assert_eq!(llm.remaining(), 10 - handoffs);
}
