//! The example front desk over the real provider path: the guarded providers talk to the fake
//! OpenAI-compatible server, which streams tool calls in fragments; the request carries the
//! tools, the follow-up carries the call and its result, and the turn is charged once with
//! every step's tokens.

use std::sync::Arc;

use front_desk::FrontDesk;
use serde_json::json;
use voice_agent::agent::{GuardedLlm, JobInfo};
use voice_agent::testing::TestSession;
use voice_agent_tests::fake_openai::{ChatReply, Endpoint, FakeOpenAi, LAST_TOOL_RESULT, ScriptedCall};

use crate::providers_common::{call, config, rig};

#[tokio::test]
async fn the_front_desk_books_through_the_guarded_providers() {
    let fake = FakeOpenAi::start().await;
    let rig = rig(&config(&fake, None));
    fake.push_chat(ChatReply::tool_call("book_table", json!({"name": "Kim", "people": 4, "time": "19:30"})));
    fake.push_chat(ChatReply::text(&format!("All set. {LAST_TOOL_RESULT}")));
    let llm = GuardedLlm { providers: Arc::clone(&rig.providers), call: call() };
    let job = JobInfo { room: "room-1".into(), ..JobInfo::default() };
    let mut session = TestSession::new(FrontDesk::new(&job), llm);
    let result = session.run("A table for four at half past seven, for Kim.").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("book_table").with_arguments(json!({"people": 4, "name": "Kim"}));
    expect.next_event().is_function_output("book_table").is_ok().containing("R-1001");
    expect.next_event().is_message().containing("All set. Booked: reference R-1001");
    expect.no_more_events();
    assert_eq!(session.agent().store().bookings().len(), 1);

    let requests = fake.requests_to(Endpoint::Chat);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].tool_names(), ["check_availability", "book_table", "cancel_booking"]);
    let schema = &requests[0].tools()[1]["function"]["parameters"];
    assert_eq!(schema["properties"]["people"]["description"], "How many people.");
    let assistant = &requests[1].messages_of("assistant")[0];
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "book_table");
    let tool = &requests[1].messages_of("tool")[0];
    assert_eq!(tool["tool_call_id"], assistant["tool_calls"][0]["id"]);
    assert!(tool["content"].as_str().unwrap().contains("R-1001"));
    // One turn for the limits, however many steps; both steps' tokens are charged (settled
    // when each stream ended).
    assert_eq!(rig.used_today("turns").await, 1);
    assert_eq!(rig.used_today("llm_tokens").await, 2 * (25 + 6));
}

#[tokio::test]
async fn parallel_and_broken_calls_over_http_are_answered() {
    let fake = FakeOpenAi::start().await;
    let rig = rig(&config(&fake, None));
    let mut parallel = ChatReply::tool_calls(vec![
        ScriptedCall::new("check_availability", &json!({"time": "19:00"})),
        ScriptedCall::raw("book_table", "{\"name\": \"Kim\", \"peop"),
        ScriptedCall { id: None, ..ScriptedCall::new("order_wine", &json!({})) },
    ]);
    parallel.fragment = 3;
    fake.push_chat(parallel);
    fake.push_chat(ChatReply::text("Seven is free; tell me your party size."));
    let llm = GuardedLlm { providers: Arc::clone(&rig.providers), call: call() };
    let mut session = TestSession::new(FrontDesk::new(&JobInfo::default()), llm);
    let result = session.run("Is seven free? Book it.").await;
    let mut expect = result.expect();
    expect.next_event().is_function_call("check_availability").with_arguments(json!({"time": "19:00"}));
    expect.next_event().is_function_call("book_table");
    expect.next_event().is_function_call("order_wine");
    expect.next_event().is_function_output("check_availability").is_ok().containing("\"free_tables\":2");
    expect.next_event().is_function_output("book_table").is_error().containing("not valid JSON");
    expect.next_event().is_function_output("order_wine").is_error().containing("no tool named");
    expect.next_event().is_message().containing("Seven is free");
    // The broken call goes back to the server as `{}`, so it can re-parse the history.
    let second = &fake.requests_to(Endpoint::Chat)[1];
    let calls = second.messages_of("assistant")[0]["tool_calls"].clone();
    assert_eq!(calls[1]["function"]["arguments"], "{}");
    assert_eq!(second.messages_of("tool").len(), 3);
}
