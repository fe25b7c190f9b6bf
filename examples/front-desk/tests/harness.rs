//! The front desk's logic, turn by turn, against a scripted LLM: the right tool with the right
//! arguments, several steps, a failing tool, a slow tool with the filler, a barge-in during a
//! tool, parallel calls, a hook that answers alone. Paused time: slow tools cost nothing.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::time::Duration;

use front_desk::{FrontDesk, OPENING_HOURS, Store};
use serde_json::json;
use voice_agent::agent::{ChatItem, JobInfo, ToolChoice};
use voice_agent::testing::{Answer, RunEvent, ScriptedLlm, TestSession};

fn job() -> JobInfo {
    JobInfo {
        room: "table-line".into(),
        metadata: r#"{"branch": "Harbour Street"}"#.into(),
        ..JobInfo::default()
    }
}

fn session(llm: ScriptedLlm) -> TestSession<FrontDesk, ScriptedLlm> {
    TestSession::new(FrontDesk::new(&job()), llm)
}

/// Answers with the last tool result in its words, as a model would.
fn answer_with_result() -> impl Fn(&voice_agent::testing::SeenRequest) -> Answer + Send + Sync {
    |req| Answer::text(format!("Alright: {}", req.last_tool_output().unwrap_or("nothing")))
}

#[tokio::test(start_paused = true)]
async fn greets_with_the_branch_from_the_dispatch_metadata() {
    let mut s = session(ScriptedLlm::new());
    let greeting = s.start().await;
    greeting.expect().next_event().is_message().containing("Harbour Street branch");
    assert!(s.chat().instructions().contains("Harbour Street"));
}

#[tokio::test(start_paused = true)]
async fn books_with_the_right_tool_and_arguments() {
    let llm = ScriptedLlm::new()
        .then(Answer::tool_call("book_table", json!({"name": "Kim", "people": 4, "time": "19:30"})))
        .then_with(answer_with_result());
    let mut s = session(llm.clone());
    let result = s.run("A table for four at half past seven, name Kim.").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("book_table").with_arguments(json!({"people": 4, "time": "19:30"}));
    expect.next_event().is_function_output("book_table").is_ok().containing("reference R-1001");
    expect.next_event().is_message().containing("R-1001");
    expect.no_more_events();
    // The side effect happened, and the LLM saw the tools and then the result.
    assert_eq!(s.agent().store().bookings()[0].name, "Kim");
    let requests = llm.requests();
    assert_eq!(requests[0].tools, ["check_availability", "book_table", "cancel_booking"]);
    assert!(matches!(requests[1].chat.items().last(), Some(ChatItem::ToolOutput { is_error: false, .. })));
}

#[tokio::test(start_paused = true)]
async fn checks_then_books_in_several_steps_and_remembers_across_turns() {
    let llm = ScriptedLlm::new()
        .then(Answer::tool_call("check_availability", json!({"time": "20:00"})))
        .then(Answer::tool_call("book_table", json!({"name": "Ana", "people": 2, "time": "20:00"})))
        .then_with(answer_with_result())
        .then(Answer::tool_call("cancel_booking", json!({"reference": "R-1001"})))
        .then_with(answer_with_result());
    let mut s = session(llm.clone());
    let result = s.run("Two people at eight, for Ana, if you have room.").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("check_availability").with_arguments(json!({"time": "20:00"}));
    expect.next_event().is_function_output("check_availability").containing("\"free_tables\":2");
    expect.next_event().is_function_call("book_table").with_arguments(json!({"name": "Ana", "people": 2}));
    expect.next_event().is_function_output("book_table").is_ok();
    expect.next_event().is_message().containing("R-1001");
    expect.no_more_events();
    // Next turn: the earlier calls are in the history the LLM gets.
    let result = s.run("Actually, cancel that.").await;
    result
        .expect()
        .next_event()
        .is_function_call("cancel_booking")
        .with_arguments(json!({"reference": "R-1001"}));
    assert!(result.spoken().contains("Cancelled R-1001"));
    assert!(s.agent().store().bookings().is_empty());
    let history = &llm.requests()[3].chat;
    let calls = history.items().iter().filter(|i| matches!(i, ChatItem::ToolCall { .. })).count();
    assert_eq!(calls, 2, "the first turn's two calls are remembered");
}

#[tokio::test(start_paused = true)]
async fn a_failing_tool_gives_the_llm_an_error_to_explain() {
    let llm = ScriptedLlm::new()
        .then(Answer::tool_call("book_table", json!({"name": "Big Group", "people": 12, "time": "19:00"})))
        .then_with(|req| {
            let err = req.last_tool_output().unwrap_or_default();
            Answer::text(format!("Sorry, {}", err.trim_start_matches("error: ")))
        });
    let mut s = session(llm);
    let result = s.run("Table for twelve at seven.").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("book_table");
    expect.next_event().is_function_output("book_table").is_error().containing("1 to 8 people");
    expect.next_event().is_message().containing("1 to 8 people");
    assert!(s.agent().store().bookings().is_empty());
}

#[tokio::test(start_paused = true)]
async fn broken_arguments_and_made_up_tools_are_answered_not_crashed_on() {
    let llm = ScriptedLlm::new()
        .then(Answer::raw_tool_call("book_table", "{\"name\": \"Kim\", \"people\": "))
        .then(Answer::tool_call("order_wine", json!({"bottle": "red"})))
        .then(Answer::text("Let me try again later."));
    let mut s = session(llm);
    let result = s.run("Book me in.").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("book_table");
    expect.next_event().is_function_output("book_table").is_error().containing("not valid JSON");
    expect.next_event().is_function_call("order_wine");
    expect.next_event().is_function_output("order_wine").is_error().containing("no tool named");
    expect.next_event().is_message();
}

#[tokio::test(start_paused = true)]
async fn a_slow_tool_gets_the_filler_so_the_caller_never_hears_silence() {
    let mut store = Store::new(2);
    store.latency = Duration::from_secs(3);
    let llm = ScriptedLlm::new()
        .then(Answer::tool_call("book_table", json!({"name": "Lee", "people": 3, "time": "18:30"})))
        .then_with(answer_with_result());
    let mut s = TestSession::new(FrontDesk::with_store(&job(), store), llm);
    let result = s.run("Three at half past six, Lee.").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("book_table");
    expect.next_event().is_said().containing("one moment");
    expect.next_event().is_function_output("book_table").is_ok();
    expect.next_event().is_message().containing("R-1001");
    expect.no_more_events();
}

#[tokio::test(start_paused = true)]
async fn a_fast_tool_gets_no_filler() {
    let mut store = Store::new(2);
    store.latency = Duration::from_millis(200);
    let llm = ScriptedLlm::new()
        .then(Answer::tool_call("check_availability", json!({"time": "18:00"})))
        .then(Answer::text("Two tables are free."));
    let mut s = TestSession::new(FrontDesk::with_store(&job(), store), llm);
    let result = s.run("Anything at six?").await;
    assert!(!result.events.iter().any(|e| matches!(e, RunEvent::Said(_))), "{:?}", result.events);
}

#[tokio::test(start_paused = true)]
async fn barge_in_during_a_tool_cancels_it_and_nothing_is_booked() {
    let mut store = Store::new(2);
    store.latency = Duration::from_secs(5);
    let llm = ScriptedLlm::new()
        .then(Answer::tool_call("book_table", json!({"name": "Sam", "people": 2, "time": "19:00"})))
        .then(Answer::text("Okay, what would you like instead?"));
    let mut s = TestSession::new(FrontDesk::with_store(&job(), store), llm.clone());
    // The caller talks over the filler, while the booking is still running.
    let result = s.run_until("Two at seven for Sam.", |e| matches!(e, RunEvent::Said(_))).await;
    assert!(result.interrupted);
    let mut expect = result.expect();
    expect.next_event().is_function_call("book_table");
    expect.next_event().is_said();
    expect.next_event().is_function_output("book_table").is_error().containing("interrupted");
    expect.no_more_events();
    assert!(s.agent().store().bookings().is_empty(), "the cancelled booking never happened");
    // The next turn goes on from there: the cancelled call and its result are in the history.
    let result = s.run("Wait, make it eight o'clock.").await;
    result.expect().next_event().is_message().containing("instead");
    let history = &llm.requests()[1].chat;
    assert!(history.items().iter().any(|i| matches!(i, ChatItem::ToolOutput { is_error: true, .. })));
}

#[tokio::test(start_paused = true)]
async fn parallel_checks_run_together() {
    let llm = ScriptedLlm::new()
        .then(Answer::tool_calls([
            ("check_availability", json!({"time": "19:00"})),
            ("check_availability", json!({"time": "21:15"})),
        ]))
        .then(Answer::text("Seven works; we don't book quarter past nine."));
    let mut s = session(llm);
    let result = s.run("Seven or quarter past nine?").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("check_availability").with_arguments(json!({"time": "19:00"}));
    expect.next_event().is_function_call("check_availability").with_arguments(json!({"time": "21:15"}));
    expect.next_event().is_function_output("check_availability").is_ok();
    expect
        .next_event()
        .is_function_output("check_availability")
        .is_error()
        .containing("we do not book 21:15");
    expect.next_event().is_message();
}

#[tokio::test(start_paused = true)]
async fn the_step_limit_forces_a_spoken_answer() {
    let mut llm = ScriptedLlm::new();
    for _ in 0..3 {
        llm = llm.then(Answer::tool_call("check_availability", json!({"time": "18:00"})));
    }
    let llm = llm.then(Answer::text("Six o'clock has two tables."));
    let mut s = session(llm.clone());
    let result = s.run("Check six, again and again.").await;
    result.expect().contains_function_call("check_availability");
    assert!(result.spoken().contains("two tables"));
    let choices: Vec<_> = llm.requests().iter().map(|r| r.tool_choice).collect();
    assert_eq!(choices, [ToolChoice::Auto, ToolChoice::Auto, ToolChoice::Auto, ToolChoice::None]);
}

#[tokio::test(start_paused = true)]
async fn opening_hours_are_answered_by_the_hook_without_the_llm() {
    let llm = ScriptedLlm::new();
    let mut s = session(llm.clone());
    let result = s.run("What are your opening hours?").await;
    let mut expect = result.expect();
    expect.next_event().is_message().containing(OPENING_HOURS);
    expect.no_more_events();
    assert!(llm.requests().is_empty());
}
