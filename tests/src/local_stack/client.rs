//! Calls to the local stack's three endpoints in the shapes the agent's OpenAI-compatible
//! providers send (multipart transcription with `model`/`model_name`/`language`; streamed chat
//! with `stream_options.include_usage`; speech as `pcm`), timed from the request's start; and
//! chat with OpenAI `tools` (the answer's `tool_calls`, streamed deltas reassembled).

use std::time::Duration;

use serde_json::{Value, json};
use voice_agent::clock;

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// No answer: connection refused or reset, timeout, a broken body.
    Http(reqwest::Error),
    /// The server answered with an error status (and this body).
    Status(u16, String),
    /// The answer was not what the OpenAI API shape promises.
    Malformed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http(e) => write!(f, "HTTP failure: {e}"),
            Self::Status(s, body) => write!(f, "status {s}: {body}"),
            Self::Malformed(m) => write!(f, "malformed answer: {m}"),
        }
    }
}

impl From<reqwest::Error> for CallError {
    fn from(e: reqwest::Error) -> Self {
        Self::Http(e)
    }
}

impl CallError {
    /// True when the server could not be reached at all (nothing listens: refused).
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_connect())
    }
}

async fn checked(resp: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(CallError::Status(status.as_u16(), body.chars().take(500).collect()))
}

/// A transcription and how long it took.
#[derive(Debug)]
pub struct Transcript {
    /// The `text` field.
    pub text: String,
    /// Request start to the whole answer.
    pub elapsed: Duration,
}

/// POSTs `wav` to `<base>/audio/transcriptions` as the agent does.
pub async fn transcribe(http: &reqwest::Client, base: &str, wav: Vec<u8>) -> Result<Transcript, CallError> {
    let started = clock::now();
    let file = reqwest::multipart::Part::bytes(wav).file_name("audio.wav").mime_str("audio/wav")?;
    let form = reqwest::multipart::Form::new()
        .part("file", file)
        .text("model", "local-stt")
        .text("model_name", "local-stt")
        .text("response_format", "json")
        .text("language", "en");
    let resp =
        checked(http.post(format!("{base}/audio/transcriptions")).multipart(form).send().await?).await?;
    let body: Value = resp.json().await?;
    let text = body["text"].as_str().ok_or_else(|| CallError::Malformed(format!("no text in {body}")))?;
    Ok(Transcript { text: text.to_owned(), elapsed: clock::now() - started })
}

/// A streamed chat completion, reassembled and timed.
#[derive(Debug, Default)]
pub struct Chat {
    /// The concatenated content deltas.
    pub text: String,
    /// Request start to the first non-empty content delta.
    pub first_token: Option<Duration>,
    /// Request start to the first delta that completes a sentence (`.`, `!`, `?`).
    pub first_sentence: Option<Duration>,
    /// Request start to `[DONE]`.
    pub elapsed: Duration,
    /// Content deltas received.
    pub deltas: u32,
    /// `usage` from the final chunk (`stream_options.include_usage`): prompt, completion.
    pub usage: Option<(u64, u64)>,
    /// The stream ended with `data: [DONE]`.
    pub done: bool,
}

impl Chat {
    /// Completion tokens per second after the first token (decode speed).
    pub fn tokens_per_second(&self) -> Option<f64> {
        let (_, completion) = self.usage?;
        let decode = self.elapsed.checked_sub(self.first_token?)?.as_secs_f64();
        (completion > 1 && decode > 0.0).then(|| (completion - 1) as f64 / decode)
    }
}

/// Streams `<base>/chat/completions` for `messages` (role, content) as the agent does.
pub async fn chat(
    http: &reqwest::Client,
    base: &str,
    messages: &[(&str, &str)],
    max_tokens: u32,
) -> Result<Chat, CallError> {
    let started = clock::now();
    let msgs: Vec<Value> = messages.iter().map(|(r, c)| json!({"role": r, "content": c})).collect();
    let body = json!({
        "model": "local-llm", "messages": msgs, "stream": true,
        "stream_options": {"include_usage": true}, "max_tokens": max_tokens, "temperature": 0.0,
    });
    let mut resp = checked(
        http.post(format!("{base}/chat/completions"))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body)
            .send()
            .await?,
    )
    .await?;
    let mut chat = Chat::default();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(bytes) = resp.chunk().await? {
        pending.extend_from_slice(&bytes);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else { continue };
            if data == "[DONE]" {
                chat.done = true;
                continue;
            }
            let v: Value =
                serde_json::from_str(data).map_err(|e| CallError::Malformed(format!("{e}: {data}")))?;
            if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                let n = |k: &str| u[k].as_u64().unwrap_or(0);
                chat.usage = Some((n("prompt_tokens"), n("completion_tokens")));
            }
            let delta = v["choices"][0]["delta"]["content"].as_str().unwrap_or("");
            if delta.is_empty() {
                continue;
            }
            let at = clock::now() - started;
            chat.first_token.get_or_insert(at);
            if delta.contains(['.', '!', '?']) {
                chat.first_sentence.get_or_insert(at);
            }
            chat.deltas += 1;
            chat.text.push_str(delta);
        }
        if pending.len() > 1 << 20 {
            return Err(CallError::Malformed("an SSE line longer than 1 MiB".into()));
        }
    }
    chat.elapsed = clock::now() - started;
    Ok(chat)
}

/// Synthesized speech and its timing.
#[derive(Debug)]
pub struct Speech {
    /// Mono s16 samples at 24 kHz.
    pub pcm: Vec<i16>,
    /// The response's `Content-Type`.
    pub content_type: String,
    /// Request start to the first audio byte.
    pub first_byte: Option<Duration>,
    /// Request start to the end of the audio.
    pub elapsed: Duration,
}

/// POSTs `<base>/audio/speech` with `response_format: pcm` as the agent does.
pub async fn speech(http: &reqwest::Client, base: &str, text: &str) -> Result<Speech, CallError> {
    let started = clock::now();
    let body = json!({"model": "local-tts", "input": text, "voice": "alloy", "response_format": "pcm"});
    let mut resp = checked(http.post(format!("{base}/audio/speech")).json(&body).send().await?).await?;
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut raw = Vec::new();
    let mut first_byte = None;
    while let Some(bytes) = resp.chunk().await? {
        if !bytes.is_empty() {
            first_byte.get_or_insert_with(|| clock::now() - started);
        }
        raw.extend_from_slice(&bytes);
        if raw.len() > 24_000 * 2 * 600 {
            return Err(CallError::Malformed("more than 10 minutes of audio".into()));
        }
    }
    if raw.len() % 2 != 0 {
        return Err(CallError::Malformed(format!("odd PCM length {}", raw.len())));
    }
    let pcm = raw.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    Ok(Speech { pcm, content_type, first_byte, elapsed: clock::now() - started })
}

/// A chat completion with `tools`: what came back, reassembled from the stream when streamed.
#[derive(Debug, Default)]
pub struct ToolChat {
    /// The text content.
    pub content: String,
    /// The calls asked for: id, function name, arguments (the JSON text, concatenated).
    pub calls: Vec<(String, String, String)>,
    /// `finish_reason` of the (last) choice.
    pub finish_reason: String,
}

/// POSTs `<base>/chat/completions` with `messages` and `tools` (OpenAI shapes), streamed or
/// not, at temperature 0.
pub async fn chat_with_tools(
    http: &reqwest::Client,
    base: &str,
    messages: &[Value],
    tools: &Value,
    stream: bool,
) -> Result<ToolChat, CallError> {
    let body = json!({
        "model": "local-llm", "messages": messages, "tools": tools, "stream": stream,
        "max_tokens": 120, "temperature": 0.0,
    });
    let resp = checked(http.post(format!("{base}/chat/completions")).json(&body).send().await?).await?;
    let mut out = ToolChat::default();
    if !stream {
        let v: Value = resp.json().await?;
        let choice = &v["choices"][0];
        out.content = choice["message"]["content"].as_str().unwrap_or_default().to_owned();
        for c in choice["message"]["tool_calls"].as_array().into_iter().flatten() {
            let f = &c["function"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            out.calls.push((text(&c["id"]), text(&f["name"]), text(&f["arguments"])));
        }
        out.finish_reason = choice["finish_reason"].as_str().unwrap_or_default().to_owned();
        return Ok(out);
    }
    let text = resp.text().await?;
    for data in text.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim) {
        if data == "[DONE]" {
            continue;
        }
        let v: Value =
            serde_json::from_str(data).map_err(|e| CallError::Malformed(format!("{e}: {data}")))?;
        let choice = &v["choices"][0];
        out.content.push_str(choice["delta"]["content"].as_str().unwrap_or_default());
        for d in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            // Deltas name their call by index; the first delta of a call carries id and name.
            let i = d["index"].as_u64().unwrap_or(0) as usize;
            if out.calls.len() <= i {
                out.calls.resize(i + 1, Default::default());
            }
            let call = &mut out.calls[i];
            call.0.push_str(d["id"].as_str().unwrap_or_default());
            call.1.push_str(d["function"]["name"].as_str().unwrap_or_default());
            call.2.push_str(d["function"]["arguments"].as_str().unwrap_or_default());
        }
        if let Some(r) = choice["finish_reason"].as_str() {
            r.clone_into(&mut out.finish_reason);
        }
    }
    Ok(out)
}
