//! How each endpoint answers under each [`Behavior`].

use serde_json::{Value, json};

use super::behavior::{Behavior, Endpoint, Replies, RetryHint};
use super::http::{Closed, Conn};
use super::script::ChatReply;
use super::state::State;

/// What the client asked for that shapes the answer.
pub struct Ask {
    pub endpoint: Endpoint,
    /// Chat: `stream_options.include_usage` was set.
    pub include_usage: bool,
    /// Chat: the content of the request's last `tool` message.
    pub last_tool_result: Option<String>,
}

pub async fn answer(
    conn: &mut Conn,
    state: &State,
    ask: &Ask,
    b: &Behavior,
    r: &Replies,
) -> Result<(), Closed> {
    match b {
        Behavior::Status(s) => {
            let body = json!({"error": {"message": format!("scripted status {s}"), "type": "server_error"}});
            conn.respond(*s, "application/json", &[], body.to_string().as_bytes()).await
        }
        Behavior::RateLimited(hint) => {
            let body = json!({"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}});
            conn.respond(429, "application/json", &retry_headers(*hint), body.to_string().as_bytes()).await
        }
        Behavior::Unauthorized => {
            let body = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}});
            conn.respond(401, "application/json", &[], body.to_string().as_bytes()).await
        }
        Behavior::Hang => conn.unless_closed(std::future::pending::<()>()).await,
        Behavior::SlowFirstByte(d) => {
            conn.pause(*d).await?;
            normal(conn, state, ask, r, Flow::default()).await
        }
        Behavior::ChunkDelay(d) => {
            normal(conn, state, ask, r, Flow { delay: Some(*d), ..Flow::default() }).await
        }
        Behavior::HoldBeforeLast => normal(conn, state, ask, r, Flow { hold: true, ..Flow::default() }).await,
        Behavior::CutMidStream => normal(conn, state, ask, r, Flow { cut: true, ..Flow::default() }).await,
        Behavior::WrongContentType => {
            conn.respond(200, "text/html", &[], b"<html><body>Welcome to nginx!</body></html>").await
        }
        Behavior::HugeBody(n) => {
            let ct = content_type(ask.endpoint);
            conn.start_chunked(200, ct).await?;
            let block = vec![b'x'; 64 * 1024];
            let mut left = *n;
            while left > 0 {
                let k = left.min(block.len());
                conn.chunk(&block[..k]).await?;
                left -= k;
            }
            conn.end_chunks().await
        }
        Behavior::MalformedSse | Behavior::MalformedJson | Behavior::OddPcm => {
            malformed(conn, ask, b, r).await
        }
        Behavior::Trickle(every) => trickle(conn, ask.endpoint, *every).await,
        Behavior::Endless => endless(conn, ask.endpoint, r).await,
        Behavior::Normal => normal(conn, state, ask, r, Flow::default()).await,
    }
}

/// A head, then a piece that says nothing every `every`, until the client hangs up.
async fn trickle(conn: &mut Conn, e: Endpoint, every: std::time::Duration) -> Result<(), Closed> {
    conn.start_chunked(200, content_type(e)).await?;
    let piece: &[u8] = match e {
        Endpoint::Chat => b": keep-alive\n\n",
        Endpoint::Speech => &[0],
        Endpoint::Transcriptions => b" ",
    };
    loop {
        conn.chunk(piece).await?;
        conn.pause(every).await?;
    }
}

/// An answer that never ends, until the client hangs up.
async fn endless(conn: &mut Conn, e: Endpoint, r: &Replies) -> Result<(), Closed> {
    conn.start_chunked(200, content_type(e)).await?;
    let piece = match e {
        Endpoint::Chat => sse(
            &json!({"choices": [{"index": 0, "delta": {"content": " and so on"}, "finish_reason": null}]}),
        ),
        Endpoint::Speech => pcm_bytes(&r.speech_pcm),
        Endpoint::Transcriptions => {
            conn.chunk(br#"{"text": ""#).await?;
            b"and so on ".repeat(100)
        }
    };
    loop {
        conn.chunk(&piece).await?;
        // Let the other connections of the fake's runtime run between pieces.
        tokio::task::yield_now().await;
    }
}

fn content_type(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Chat => "text/event-stream",
        Endpoint::Speech => "audio/pcm",
        Endpoint::Transcriptions => "application/json",
    }
}

fn retry_headers(hint: RetryHint) -> Vec<(String, String)> {
    match hint {
        RetryHint::Seconds(s) => vec![("retry-after".into(), s.to_string())],
        RetryHint::HttpDate(d) => {
            let at = std::time::UNIX_EPOCH + voice_agent::clock::unix_now() + d;
            vec![("retry-after".into(), httpdate::fmt_http_date(at))]
        }
        RetryHint::Millis(ms) => vec![("retry-after-ms".into(), ms.to_string())],
        RetryHint::ResetHeader(v) => vec![("x-ratelimit-reset-requests".into(), v.to_owned())],
        RetryHint::None => Vec::new(),
    }
}

#[derive(Default)]
struct Flow {
    delay: Option<std::time::Duration>,
    hold: bool,
    cut: bool,
}

fn sse(v: &Value) -> Vec<u8> {
    format!("data: {v}\n\n").into_bytes()
}

/// The SSE events of a chat answer: the scripted one if queued, else the configured text.
fn chat_events(ask: &Ask, r: &Replies, scripted: Option<ChatReply>) -> Vec<Vec<u8>> {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let reply = scripted.unwrap_or_else(|| ChatReply { text: r.chat_chunks.clone(), ..ChatReply::default() });
    let mut ev = vec![sse(&chunk(json!({"role": "assistant", "content": ""}), Value::Null))];
    for delta in reply.deltas(ask.last_tool_result.as_deref()) {
        ev.push(sse(&chunk(delta, Value::Null)));
    }
    ev.push(sse(&chunk(json!({}), json!(reply.finish_reason()))));
    if ask.include_usage {
        let (p, c) = r.chat_usage;
        ev.push(sse(&json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}})));
    }
    ev.push(b"data: [DONE]\n\n".to_vec());
    ev
}

fn pcm_bytes(pcm: &[i16]) -> Vec<u8> {
    pcm.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Body pieces of a normal answer, and where the "last" piece starts for `HoldBeforeLast`.
fn pieces(ask: &Ask, state: &State, r: &Replies) -> Vec<Vec<u8>> {
    match ask.endpoint {
        Endpoint::Chat => chat_events(ask, r, state.next_chat()),
        Endpoint::Speech => {
            pcm_bytes(&r.speech_pcm).chunks(r.speech_chunk_bytes.max(1)).map(<[u8]>::to_vec).collect()
        }
        Endpoint::Transcriptions => vec![json!({"text": r.transcript}).to_string().into_bytes()],
    }
}

async fn normal(conn: &mut Conn, state: &State, ask: &Ask, r: &Replies, flow: Flow) -> Result<(), Closed> {
    let pieces = pieces(ask, state, r);
    if ask.endpoint == Endpoint::Transcriptions {
        let body = pieces.concat();
        if flow.cut {
            // Promise the whole body, send half, hang up.
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            conn.write(head.as_bytes()).await?;
            conn.write(&body[..body.len() / 2]).await?;
            conn.shutdown().await;
            return Ok(());
        }
        if flow.hold {
            conn.unless_closed(state.gate_wait()).await?;
        }
        return conn.respond(200, "application/json", &[], &body).await;
    }
    conn.start_chunked(200, content_type(ask.endpoint)).await?;
    let n = pieces.len();
    // Chat: the last content delta is followed by finish/usage/[DONE]; hold before the last delta.
    let hold_at = match ask.endpoint {
        Endpoint::Chat => n.saturating_sub(if ask.include_usage { 4 } else { 3 }),
        _ => n.saturating_sub(1),
    };
    for (i, p) in pieces.iter().enumerate() {
        if flow.cut && i >= (n / 2).max(1) {
            conn.shutdown().await;
            return Ok(());
        }
        if flow.hold && i == hold_at {
            conn.unless_closed(state.gate_wait()).await?;
        }
        if i > 0 {
            conn.pause(flow.delay.unwrap_or(r.chunk_delay)).await?;
        }
        conn.chunk(p).await?;
    }
    conn.end_chunks().await
}

async fn malformed(conn: &mut Conn, ask: &Ask, b: &Behavior, r: &Replies) -> Result<(), Closed> {
    match ask.endpoint {
        Endpoint::Chat => {
            conn.start_chunked(200, "text/event-stream").await?;
            let first = json!({"choices": [{"index": 0, "delta": {"content": "Hi"}}]});
            conn.chunk(&sse(&first)).await?;
            let bad: &[u8] = match b {
                Behavior::MalformedJson => {
                    b"data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": 5}}]}\n\n"
                }
                _ => b"data: {\"choices\": [{\"delta\": \n\n",
            };
            conn.chunk(bad).await?;
            conn.chunk(b"data: [DONE]\n\n").await?;
            conn.end_chunks().await
        }
        Endpoint::Speech => {
            if *b == Behavior::OddPcm {
                let mut bytes = pcm_bytes(&r.speech_pcm);
                bytes.push(0x7f);
                conn.start_chunked(200, "audio/pcm").await?;
                // Odd-sized chunks so the carry-over between chunks is exercised too.
                for c in bytes.chunks(4_801) {
                    conn.chunk(c).await?;
                }
                return conn.end_chunks().await;
            }
            conn.respond(200, "application/json", &[], br#"{"error": {"message": "voice not found"}}"#).await
        }
        Endpoint::Transcriptions => {
            let body: &[u8] = match b {
                Behavior::MalformedJson => br#"{"text": "cut"#,
                Behavior::MalformedSse => br#"{"transcript": 5}"#,
                _ => return normal_stt(conn, r).await,
            };
            conn.respond(200, "application/json", &[], body).await
        }
    }
}

async fn normal_stt(conn: &mut Conn, r: &Replies) -> Result<(), Closed> {
    conn.respond(200, "application/json", &[], json!({"text": r.transcript}).to_string().as_bytes()).await
}
