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
