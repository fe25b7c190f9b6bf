//! The fake OpenAI-compatible server itself, driven by a bare HTTP client: it streams, holds,
//! logs, scripts faults in order and notices a client hanging up.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use futures_util::StreamExt;
use serde_json::json;
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi, RetryHint};

fn chat_body() -> serde_json::Value {
    json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn streams_hold_and_notice_hang_ups() {
    let fake = FakeOpenAi::start().await;
    let http = reqwest::Client::new();
    fake.push(Endpoint::Chat, Behavior::HoldBeforeLast);
    let resp = http
        .post(format!("{}/chat/completions", fake.base_url()))
        .bearer_auth("sk-test")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    // Everything up to the held last delta arrives while the fake waits for us.
    while !seen.contains(" I\"") {
        seen.push_str(&String::from_utf8_lossy(&body.next().await.unwrap().unwrap()));
    }
    assert!(!seen.contains("help?"));
    fake.release(1);
    while let Some(c) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&c.unwrap()));
    }
    assert!(
        seen.contains("help?") && seen.contains("\"prompt_tokens\":25") && seen.ends_with("data: [DONE]\n\n")
    );
    let logged = &fake.requests_to(Endpoint::Chat)[0];
    assert_eq!(logged.model().as_deref(), Some("m"));
    assert_eq!(logged.header("authorization"), Some("Bearer sk-test"));

    // A hanging request: the client gives up, the fake sees it.
    fake.push(Endpoint::Speech, Behavior::Hang);
    let pending = tokio::spawn({
        let http = http.clone();
        let url = format!("{}/audio/speech", fake.base_url());
        async move { http.post(url).json(&json!({"model": "t", "input": "x"})).send().await }
    });
    assert!(fake.wait_requests(Endpoint::Speech, 1).await);
    assert_eq!(fake.active_responses(), 1);
    pending.abort();
    assert!(fake.wait_idle().await, "the fake did not notice the hang-up");
    assert!(fake.wait_for(|f| f.open_connections() <= 1).await);
}

#[tokio::test]
async fn faults_come_in_order_then_the_default() {
    let fake = FakeOpenAi::start().await;
    let http = reqwest::Client::new();
    fake.push(Endpoint::Transcriptions, Behavior::RateLimited(RetryHint::Millis(1500)));
    fake.push(
        Endpoint::Transcriptions,
        Behavior::RateLimited(RetryHint::HttpDate(std::time::Duration::from_secs(30))),
    );
    fake.set_default(Endpoint::Transcriptions, Behavior::Status(503));
    let url = format!("{}/audio/transcriptions", fake.base_url());
    let send = || {
        let form = reqwest::multipart::Form::new()
            .text("model", "whisper-1")
            .part("file", reqwest::multipart::Part::bytes(vec![1, 2, 3]).file_name("a.wav"));
        http.post(&url).multipart(form).send()
    };
    let r = send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["retry-after-ms"].to_str().unwrap()), (429, "1500"));
    let r = send().await.unwrap();
    assert!(r.headers()["retry-after"].to_str().unwrap().ends_with("GMT"));
    assert_eq!(send().await.unwrap().status().as_u16(), 503);
    fake.heal();
    let r = send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["text"], "what is the weather like today");
    let logged = fake.requests_to(Endpoint::Transcriptions);
    assert_eq!(logged.len(), 4);
    assert_eq!(logged[3].field("model").as_deref(), Some("whisper-1"));
    assert_eq!(logged[3].form.iter().find(|p| p.name == "file").unwrap().data, vec![1, 2, 3]);
}

/// The `data:` payloads of an SSE body.
fn sse_payloads(body: &str) -> Vec<String> {
    body.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_owned).collect()
}

#[tokio::test]
async fn scripted_tool_calls_stream_in_fragments_and_requests_are_recorded() {
    use voice_agent::core::tool_calls::{ToolCallAccumulator, ToolCallDelta, ToolCallLimits};
    use voice_agent_tests::fake_openai::{ChatReply, LAST_TOOL_RESULT, ScriptedCall};

    let fake = FakeOpenAi::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", fake.base_url());
    fake.push_chat(ChatReply::tool_calls(vec![
        ScriptedCall::new("book_table", &json!({"people": 4, "time": "19:30"})),
        ScriptedCall::raw("list_menu", "{\"course\": \"dessert\""),
    ]));
    fake.push_chat(ChatReply::text(&format!("Done: {LAST_TOOL_RESULT}.")));
    let tools = json!([{"type": "function", "function": {"name": "book_table", "description": "Books.",
        "parameters": {"type": "object", "properties": {"people": {"type": "integer"}}}}}]);
    let mut body = chat_body();
    body["tools"] = tools.clone();
    let text = http.post(&url).json(&body).send().await.unwrap().text().await.unwrap();
    // Reassembled by the agent's own accumulator: arguments arrive in pieces, interleaved.
    let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
    let mut argument_pieces = 0;
    let mut finish = None;
    for data in sse_payloads(&text) {
        if data == "[DONE]" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&data).unwrap();
        if let Some(f) = v.pointer("/choices/0/finish_reason").and_then(|f| f.as_str()) {
            finish = Some(f.to_owned());
        }
        let Some(calls) = v.pointer("/choices/0/delta/tool_calls") else { continue };
        let deltas: Vec<ToolCallDelta> = serde_json::from_value(calls.clone()).unwrap();
        argument_pieces += deltas.len();
        deltas.iter().for_each(|d| acc.push(d));
    }
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert!(argument_pieces > 6, "arguments come in many pieces ({argument_pieces})");
    let calls = acc.finish();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("call_book_table", "book_table"));
    assert_eq!(calls[0].arguments, Ok(json!({"people": 4, "time": "19:30"})));
    assert!(calls[1].arguments.is_err(), "the broken JSON is streamed as scripted");

    // The follow-up request carries the tool's result; the scripted text uses it.
    let mut body = chat_body();
    body["tools"] = tools;
    body["messages"] = json!([
        {"role": "user", "content": "a table for four"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_book_table", "type": "function",
            "function": {"name": "book_table", "arguments": "{\"people\":4}"}}]},
        {"role": "tool", "tool_call_id": "call_book_table", "content": "booked, reference 17"},
    ]);
    let text = http.post(&url).json(&body).send().await.unwrap().text().await.unwrap();
    let said: String = sse_payloads(&text)
        .iter()
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| v.pointer("/choices/0/delta/content").and_then(|c| c.as_str()).map(str::to_owned))
        .collect();
    assert_eq!(said, "Done: booked, reference 17.");
    // With the script used up, the configured text comes back.
    let text = http.post(&url).json(&chat_body()).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("help?") && text.contains("\"finish_reason\":\"stop\""));

    let logged = fake.requests_to(Endpoint::Chat);
    assert_eq!(logged[0].tool_names(), ["book_table"]);
    assert_eq!(logged[1].messages_of("tool")[0]["content"], "booked, reference 17");
    assert_eq!(logged[1].messages().len(), 3);
    assert!(logged[2].tools().is_empty());
}
