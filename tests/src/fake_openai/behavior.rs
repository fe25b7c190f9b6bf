//! What the fake answers: the endpoints, the scripted behaviours and the configurable replies.

use std::time::Duration;

/// One of the three OpenAI-compatible endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/chat/completions` (SSE).
    Chat,
    /// `POST /v1/audio/speech` (raw s16le 24 kHz PCM).
    Speech,
    /// `POST /v1/audio/transcriptions` (multipart in, JSON out).
    Transcriptions,
}

impl Endpoint {
    /// All endpoints.
    pub const ALL: [Endpoint; 3] = [Endpoint::Chat, Endpoint::Speech, Endpoint::Transcriptions];

    /// The endpoint a request path names (`/v1/...`), if any.
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.split('?').next().unwrap_or(path);
        match path.trim_end_matches('/') {
            "/v1/chat/completions" => Some(Endpoint::Chat),
            "/v1/audio/speech" => Some(Endpoint::Speech),
            "/v1/audio/transcriptions" => Some(Endpoint::Transcriptions),
            _ => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The wait a 429 announces, in one of the forms providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryHint {
    /// `Retry-After: <seconds>`.
    Seconds(u64),
    /// `Retry-After: <HTTP-date>` this far in the future.
    HttpDate(Duration),
    /// `retry-after-ms: <ms>` (OpenAI).
    Millis(u64),
    /// `x-ratelimit-reset-requests: <Go duration>` such as `"2s"`.
    ResetHeader(&'static str),
    /// No hint at all.
    None,
}

/// How the fake answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// The configured reply, streamed in chunks.
    Normal,
    /// This status with a small JSON error body (500, 502, 503, 400, 404, 408 …).
    Status(u16),
    /// 429 with the given hint.
    RateLimited(RetryHint),
    /// 401 with an OpenAI-style error body.
    Unauthorized,
    /// Read the request and never answer (until the client goes away).
    Hang,
    /// Wait this long before the status line, then answer normally.
    SlowFirstByte(Duration),
    /// Answer normally but wait this long between body chunks.
    ChunkDelay(Duration),
    /// Send every body chunk but the last, then wait for [`super::FakeOpenAi::release`]: lets a
    /// test prove the client yields data before the response is complete.
    HoldBeforeLast,
    /// Send about half the body (chunked), then close the connection without ending it.
    CutMidStream,
    /// Chat: an SSE `data:` line that is not JSON. Others: a body that is not what was asked.
    MalformedSse,
    /// A 200 whose JSON is broken (chat: a chunk with the wrong shape; STT: not JSON).
    MalformedJson,
    /// A 200 body of this many bytes of junk without a line break.
    HugeBody(usize),
    /// A 200 with `content-type: text/html` and an HTML page.
    WrongContentType,
    /// Speech: PCM with an odd number of bytes in total.
    OddPcm,
    /// A 200 head, then forever one small piece every interval, which keeps the connection
    /// alive and says nothing: chat an SSE comment (`: keep-alive`), speech one byte of
    /// silence, transcription one space (JSON whitespace before an answer that never comes).
    Trickle(Duration),
    /// A 200 that never ends, as fast as the client reads: chat a text delta after another
    /// (ignoring `max_tokens`), speech the configured audio over and over, transcription a
    /// `text` string that goes on.
    Endless,
}

/// What a normal answer contains.
#[derive(Debug, Clone, PartialEq)]
pub struct Replies {
    /// Chat: the content deltas, one SSE event each.
    pub chat_chunks: Vec<String>,
    /// Chat: `(prompt_tokens, completion_tokens)` reported when `stream_options.include_usage`.
    pub chat_usage: (u32, u32),
    /// Transcriptions: the text returned.
    pub transcript: String,
    /// Speech: the 24 kHz mono samples returned (a tone by default).
    pub speech_pcm: Vec<i16>,
    /// Speech: bytes per body chunk.
    pub speech_chunk_bytes: usize,
    /// Delay between body chunks under [`Behavior::Normal`].
    pub chunk_delay: Duration,
}

impl Default for Replies {
    fn default() -> Self {
        Self {
            chat_chunks: ["Hello", " there,", " how", " can", " I", " help?"].map(String::from).to_vec(),
            chat_usage: (25, 6),
            transcript: "what is the weather like today".to_owned(),
            speech_pcm: tone(440.0, 24_000, Duration::from_millis(500)),
            speech_chunk_bytes: 4_800,
            chunk_delay: Duration::ZERO,
        }
    }
}

/// A sine tone at `freq` Hz, half scale.
pub fn tone(freq: f64, rate: u32, len: Duration) -> Vec<i16> {
    let n = (len.as_secs_f64() * f64::from(rate)) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            ((2.0 * std::f64::consts::PI * freq * t).sin() * 16_000.0) as i16
        })
        .collect()
}
