//! The OpenAI API shape — everything OpenAI-specific, and nothing else: `/chat/completions`
//! streamed as SSE (messages with tool calls and results, the `tools` array, chunk parsing
//! with text, tool-call pieces and usage),
//! `/audio/speech` as raw `pcm` (request, accepted content types) and
//! `/audio/transcriptions` as multipart (request, `{"text": …}` answer).
//!
//! Spoken by OpenAI, Groq, Together, vLLM, llama.cpp's server, Ollama, faster-whisper and most
//! TTS servers; [`OPENAI_COMPATIBLE`] is its [`Vendor`].

use serde::Deserialize;
use serde_json::{Value, json};

use super::adapter::{ChatAdapter, SpeechAdapter, TranscriptionAdapter, Vendor};
use super::config::{EndpointConfig, LlmOptions, SttOptions, TtsOptions};
use super::error::Failure;
use super::prompt::{ChatChunk, ChatEvent, ChatItem, Prompt, ToolChoice, ToolSpec};
use crate::core::tool_calls::ToolCallDelta;

/// The OpenAI-compatible vendor.
pub static OPENAI_COMPATIBLE: Vendor = Vendor {
    name: "openai-compatible",
    chat: &OpenAiCompatible,
    speech: &OpenAiCompatible,
    transcription: &OpenAiCompatible,
};

/// The OpenAI API shape.
#[derive(Debug, Clone, Copy)]
pub struct OpenAiCompatible;

fn post(ep: &EndpointConfig, http: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
    let req = http.post(format!("{}/{path}", ep.base_url));
    match &ep.api_key {
        Some(k) => req.bearer_auth(k.expose()),
        None => req,
    }
}

impl ChatAdapter for OpenAiCompatible {
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        prompt: &Prompt<'_>,
        o: &LlmOptions,
    ) -> reqwest::RequestBuilder {
        let mut body = json!({
            "model": ep.model,
            "messages": openai_messages(prompt),
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": o.max_tokens,
            "temperature": o.temperature,
        });
        if !prompt.tools.is_empty() {
            body["tools"] = openai_tools(prompt.tools);
            if prompt.tool_choice == ToolChoice::None {
                body["tool_choice"] = json!("none");
            }
        }
        post(ep, http, "chat/completions").header(reqwest::header::ACCEPT, "text/event-stream").json(&body)
    }

    fn accepts(&self, content_type: &str) -> bool {
        content_type == "text/event-stream"
    }

    fn parse_event(&self, data: &str) -> Result<Vec<ChatEvent>, Failure> {
        parse_chunk(data)
    }
}

/// The OpenAI chat `messages` of a prompt: the system prompt, then the items; consecutive
/// tool calls (and the text just before them) form one assistant message.
pub fn openai_messages(prompt: &Prompt<'_>) -> Vec<Value> {
    let mut out = Vec::with_capacity(prompt.items.len() + 1);
    if let Some(system) = prompt.system {
        out.push(json!({"role": "system", "content": system}));
    }
    for item in prompt.items {
        match item {
            ChatItem::System(t) => out.push(json!({"role": "system", "content": t})),
            ChatItem::User(t) => out.push(json!({"role": "user", "content": t})),
            ChatItem::Assistant(t) => out.push(json!({"role": "assistant", "content": t})),
            ChatItem::ToolCall { id, name, arguments } => {
                let call =
                    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}});
                match out.last_mut() {
                    Some(last) if last["role"] == "assistant" && last.get("tool_calls").is_some() => {
                        if let Some(calls) = last["tool_calls"].as_array_mut() {
                            calls.push(call);
                        }
                    }
                    Some(last) if last["role"] == "assistant" => last["tool_calls"] = json!([call]),
                    _ => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
                }
            }
            ChatItem::ToolOutput { call_id, content, .. } => {
                out.push(json!({"role": "tool", "tool_call_id": call_id, "content": content}));
            }
        }
    }
    out
}

/// The OpenAI `tools` array.
pub fn openai_tools(tools: &[ToolSpec]) -> Value {
    Value::Array(
        tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }})
            })
            .collect(),
    )
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<UsageJson>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct UsageJson {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// Parses one `data:` payload of a streamed chat completion.
pub fn parse_chunk(data: &str) -> Result<Vec<ChatEvent>, Failure> {
    if data.trim() == "[DONE]" {
        return Ok(vec![ChatEvent::Done]);
    }
    let c: Chunk = serde_json::from_str(data).map_err(|e| Failure::Malformed(format!("chunk: {e}")))?;
    if let Some(e) = c.error {
        let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("error event").to_owned();
        return Err(Failure::Cut(format!("provider error mid-stream: {msg}")));
    }
    let mut out = Vec::with_capacity(2);
    if let Some(delta) = c.choices.into_iter().next().and_then(|ch| ch.delta) {
        if let Some(text) = delta.content {
            out.push(ChatEvent::Chunk(ChatChunk::Text(text)));
        }
        for call in delta.tool_calls.unwrap_or_default() {
            out.push(ChatEvent::Chunk(ChatChunk::ToolCall(call)));
        }
    }
    if let Some(u) = c.usage {
        out.push(ChatEvent::Chunk(ChatChunk::Usage {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
        }));
    }
    Ok(out)
}

impl SpeechAdapter for OpenAiCompatible {
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        text: &str,
        o: &TtsOptions,
    ) -> reqwest::RequestBuilder {
        let mut body = json!({
            "model": ep.model,
            "input": text,
            "voice": o.voice,
            "response_format": "pcm",
        });
        if let Some(s) = o.speed {
            body["speed"] = json!(s);
        }
        post(ep, http, "audio/speech").json(&body)
    }

    /// Content types a PCM answer may carry (servers differ); JSON, HTML or text mean an
    /// error page.
    fn accepts(&self, ct: &str) -> bool {
        ct.is_empty()
            || ct.starts_with("audio/")
            || ct == "application/octet-stream"
            || ct == "binary/octet-stream"
    }
}

impl TranscriptionAdapter for OpenAiCompatible {
    /// The multipart request. `model_name` is sent besides `model` because some local
    /// faster-whisper servers read that field.
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        wav: &[u8],
        o: &SttOptions,
    ) -> reqwest::RequestBuilder {
        let file = reqwest::multipart::Part::bytes(wav.to_vec()).file_name("audio.wav");
        let file = match file.mime_str("audio/wav") {
            Ok(f) => f,
            Err(_) => reqwest::multipart::Part::bytes(wav.to_vec()).file_name("audio.wav"),
        };
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", ep.model.clone())
            .text("model_name", ep.model.clone())
            .text("response_format", "json");
        if let Some(lang) = &o.language {
            form = form.text("language", lang.clone());
        }
        post(ep, http, "audio/transcriptions").multipart(form)
    }

    fn parse_answer(&self, content_type: &str, body: &[u8]) -> Result<String, Failure> {
        #[derive(Deserialize)]
        struct Answer {
            text: String,
        }
        if content_type.starts_with("text/html") {
            return Err(Failure::Malformed(format!("content type {content_type}")));
        }
        let a: Answer =
            serde_json::from_slice(body).map_err(|e| Failure::Malformed(format!("transcription: {e}")))?;
        Ok(a.text.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::prompt::tests::{call, output, prompt};

    fn text(t: &str) -> ChatEvent {
        ChatEvent::Chunk(ChatChunk::Text(t.into()))
    }

    #[test]
    fn chunks_parse_to_deltas_usage_and_done() {
        let d = r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
        assert_eq!(parse_chunk(d).unwrap(), vec![text("Hi")]);
        let u = r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#;
        assert_eq!(
            parse_chunk(u).unwrap(),
            vec![ChatEvent::Chunk(ChatChunk::Usage { prompt: 12, completion: 3 })]
        );
        assert_eq!(parse_chunk(" [DONE]").unwrap(), vec![ChatEvent::Done]);
        assert_eq!(parse_chunk(r#"{"choices":[{"delta":{}}]}"#).unwrap(), vec![]);
        assert_eq!(parse_chunk(r#"{"choices":[{"delta":{"content":null}}]}"#).unwrap(), vec![]);
        for bad in [r#"{"choices":[{"delta":{"content":5}}]}"#, "{not json", r#"{"choices":"x"}"#] {
            assert!(matches!(parse_chunk(bad), Err(Failure::Malformed(_))), "{bad}");
        }
        assert!(matches!(parse_chunk(r#"{"error":{"message":"overloaded"}}"#), Err(Failure::Cut(_))));
    }

    #[test]
    fn tool_call_pieces_come_through() {
        let d = r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"book","arguments":"{\"n"}}]}}]}"#;
        let events = parse_chunk(d).unwrap();
        let [ChatEvent::Chunk(ChatChunk::ToolCall(call))] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!((call.index, call.id.as_deref()), (Some(0), Some("c1")));
    }

    #[test]
    fn the_vendor_reads_its_own_answers() {
        let v = &OPENAI_COMPATIBLE;
        assert!(v.chat.accepts("text/event-stream"));
        assert!(!v.chat.accepts("text/html"));
        assert_eq!(
            v.chat.parse_event(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#).unwrap(),
            vec![text("Hi")]
        );
        assert!(
            v.speech.accepts("audio/pcm")
                && v.speech.accepts("")
                && v.speech.accepts("application/octet-stream")
        );
        assert!(!v.speech.accepts("application/json"));
        assert_eq!(format!("{v:?}"), "openai-compatible");
    }

    #[test]
    fn transcription_answers() {
        let t = &OPENAI_COMPATIBLE.transcription;
        assert_eq!(t.parse_answer("application/json", br#"{"text":" hi there "}"#).unwrap(), "hi there");
        for (ct, body) in [
            ("application/json", &br#"{"text": 5}"#[..]),
            ("application/json", b"{\"text\": \"cut"),
            ("text/html", b"<html>"),
            ("application/json", b""),
        ] {
            assert!(matches!(t.parse_answer(ct, body), Err(Failure::Malformed(_))), "{ct} {body:?}");
        }
    }

    #[test]
    fn tool_calls_group_into_one_assistant_message() {
        let items = [
            ChatItem::User("hi".into()),
            ChatItem::Assistant("Let me check.".into()),
            call("a"),
            call("b"),
            output("a"),
            output("b"),
            ChatItem::Assistant("Done.".into()),
        ];
        let m = openai_messages(&prompt(&items));
        let roles: Vec<_> = m.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "tool", "assistant"]);
        assert_eq!(m[2]["content"], "Let me check.");
        assert_eq!(m[2]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(m[3]["tool_call_id"], "a");
        // A call with no text before it: content null.
        let items = [ChatItem::User("hi".into()), call("a")];
        assert_eq!(openai_messages(&prompt(&items))[2]["content"], Value::Null);
        let p = Prompt { system: None, ..prompt(&items) };
        assert_eq!(openai_messages(&p)[0]["role"], "user");
    }

    #[test]
    fn tools_and_their_size_count() {
        let spec = ToolSpec {
            name: "f".into(),
            description: "does f".into(),
            parameters: json!({"type": "object"}),
        };
        let tools = [spec];
        assert_eq!(openai_tools(&tools)[0]["function"]["name"], "f");
        let items = [ChatItem::User("hi".into())];
        let bare = prompt(&items);
        let with = Prompt { tools: &tools, ..bare };
        assert!(with.chars() > bare.chars());
    }
}
