//! A fake OpenAI-compatible provider: a real HTTP/1.1 server on `127.0.0.1:0` with scripted
//! faults, for tests and benchmarks of the provider clients.
//!
//! Endpoints: `POST /v1/chat/completions` (SSE: `data: {...}` chunks with
//! `choices[0].delta.content`, a usage chunk when `stream_options.include_usage`, then
//! `data: [DONE]`), `POST /v1/audio/speech` (raw s16le 24 kHz mono PCM, chunked) and
//! `POST /v1/audio/transcriptions` (multipart in, `{"text": ...}` out).
//!
//! ```no_run
//! # async fn demo() {
//! use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi, RetryHint};
//! let fake = FakeOpenAi::start().await;
//! let base = fake.base_url(); // "http://127.0.0.1:PORT/v1"
//! fake.push(Endpoint::Chat, Behavior::Status(500)); // the next chat request gets a 500…
//! fake.push(Endpoint::Chat, Behavior::RateLimited(RetryHint::Seconds(2))); // …then a 429
//! fake.set_default(Endpoint::Speech, Behavior::Hang); // every speech request hangs…
//! fake.heal(); // …until healed: queues cleared, every default back to Normal
//! let seen = fake.requests(); // what was asked (path, model, JSON/form, headers)
//! assert!(fake.wait_idle().await); // no response in progress (cancellations arrived)
//! # }
//! ```
//!
//! Chat answers can be scripted per request ([`FakeOpenAi::push_chat`] with a [`ChatReply`]):
//! text, streamed `tool_calls` (arguments cut into fragments, parallel calls interleaved,
//! `finish_reason: "tool_calls"`), or text using the request's last tool result
//! ([`LAST_TOOL_RESULT`]). Each logged request keeps its JSON, with helpers for the `tools`
//! offered and the `messages` sent ([`LoggedRequest::tool_names`], [`LoggedRequest::messages_of`]).
//!
//! Responses that never end, for the client's bounds: [`Behavior::Trickle`] keeps a response
//! alive with a piece that says nothing (an SSE comment, a byte of silence, a space) every
//! interval, forever; [`Behavior::Endless`] answers as fast as the client reads, forever (text
//! past any `max_tokens`, audio past any length).
//!
//! Behaviours come from a FIFO queue per endpoint ([`FakeOpenAi::push`]), else that endpoint's
//! default ([`FakeOpenAi::set_default`]). [`Behavior::HoldBeforeLast`] holds the final piece of
//! a body until [`FakeOpenAi::release`], so a test can prove the client yields data early
//! without timing anything. Counters: [`FakeOpenAi::open_connections`] (TCP connections) and
//! [`FakeOpenAi::active_responses`] (responses not yet finished or abandoned); the fake notices
//! a client hanging up even while it waits, so both fall when the client cancels.

mod behavior;
mod handlers;
mod http;
mod multipart;
mod script;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use behavior::{Behavior, Endpoint, Replies, RetryHint, tone};
pub use multipart::FormPart;
pub use script::{ChatReply, LAST_TOOL_RESULT, ScriptedCall};
pub use state::LoggedRequest;

use handlers::Ask;
use http::{Conn, RawRequest};
use state::{Counter, State};

/// How long the `wait_*` helpers wait before giving up (a hang guard, not a timing assertion).
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// A running fake provider; stops (closing every connection) when dropped.
pub struct FakeOpenAi {
    addr: SocketAddr,
    state: Arc<State>,
    stop: CancellationToken,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl FakeOpenAi {
    /// Starts the fake on a free loopback port (needs a tokio runtime).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a free loopback port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State::default());
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, Arc::clone(&state), stop.clone()));
        Self { addr, state, stop }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients are configured with: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues a one-shot behaviour for the next request to `endpoint`.
    pub fn push(&self, endpoint: Endpoint, b: Behavior) {
        self.state.push(endpoint, b);
    }

    /// Queues the same behaviour `n` times.
    pub fn push_n(&self, endpoint: Endpoint, b: Behavior, n: usize) {
        for _ in 0..n {
            self.state.push(endpoint, b.clone());
        }
    }

    /// What `endpoint` does when its queue is empty (initially [`Behavior::Normal`]).
    pub fn set_default(&self, endpoint: Endpoint, b: Behavior) {
        self.state.set_default(endpoint, b);
    }

    /// Queues a scripted answer for the next chat request that is answered normally (also
    /// slowly, held or cut; not by an error status): text, streamed tool calls, or both.
    pub fn push_chat(&self, reply: ChatReply) {
        self.state.push_chat(reply);
    }

    /// Clears every queue (scripted chat answers too) and sets every default back to
    /// [`Behavior::Normal`].
    pub fn heal(&self) {
        self.state.clear_queues();
        self.state.clear_chat_script();
        for e in Endpoint::ALL {
            self.state.set_default(e, Behavior::Normal);
        }
    }

    /// Changes what normal answers contain.
    pub fn edit_replies(&self, f: impl FnOnce(&mut Replies)) {
        self.state.edit_replies(f);
    }

    /// Lets `n` held bodies ([`Behavior::HoldBeforeLast`]) finish.
    pub fn release(&self, n: usize) {
        self.state.release(n);
    }

    /// Every request seen so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.requests()
    }

    /// Forgets the requests logged so far (a long benchmark would otherwise keep every
    /// transcription upload).
    pub fn forget_requests(&self) {
        self.state.forget_requests();
    }

    /// Requests seen for `endpoint`.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<LoggedRequest> {
        self.requests().into_iter().filter(|r| r.endpoint == Some(endpoint)).collect()
    }

    /// The texts of every speech request so far, in order.
    pub fn speech_inputs(&self) -> Vec<String> {
        self.requests_to(Endpoint::Speech)
            .iter()
            .filter_map(|r| r.json.as_ref().and_then(|j| j["input"].as_str().map(String::from)))
            .collect()
    }

    /// TCP connections currently open.
    pub fn open_connections(&self) -> usize {
        self.state.open()
    }

    /// Responses currently being produced (ends when finished or when the client hangs up).
    pub fn active_responses(&self) -> usize {
        self.state.active()
    }

    /// Waits until `pred` holds (re-checked on every change); `false` after [`WAIT_LIMIT`].
    pub async fn wait_for(&self, pred: impl Fn(&Self) -> bool) -> bool {
        let mut rx = self.state.subscribe();
        let waiting = async {
            loop {
                if pred(self) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(WAIT_LIMIT, waiting).await.is_ok() && pred(self)
    }

    /// Waits until `n` requests to `endpoint` have arrived.
    pub async fn wait_requests(&self, endpoint: Endpoint, n: usize) -> bool {
        self.wait_for(|f| f.requests_to(endpoint).len() >= n).await
    }

    /// Waits until no response is in progress.
    pub async fn wait_idle(&self) -> bool {
        self.wait_for(|f| f.active_responses() == 0).await
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let (state, stop) = (Arc::clone(&state), stop.clone());
        tokio::spawn(async move {
            let _open = state.count(Counter::Open);
            tokio::select! {
                () = stop.cancelled() => {}
                () = serve(Conn::new(stream), &state) => {}
            }
        });
    }
}

async fn serve(mut conn: Conn, state: &State) {
    while let Ok(req) = conn.read_request().await {
        let endpoint = Endpoint::from_path(&req.path);
        let behavior = endpoint.map(|e| state.next_behavior(e)).unwrap_or(Behavior::Status(404));
        let logged = log_entry(&req, endpoint, &behavior);
        let include_usage = logged
            .json
            .as_ref()
            .and_then(|j| j.pointer("/stream_options/include_usage"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let last_tool_result = logged.json.as_ref().and_then(script::last_tool_result);
        let _active = state.count(Counter::Active);
        state.log(logged);
        let answered = match endpoint {
            Some(endpoint) => {
                let ask = Ask { endpoint, include_usage, last_tool_result };
                handlers::answer(&mut conn, state, &ask, &behavior, &state.replies()).await
            }
            None => {
                conn.respond(404, "application/json", &[], br#"{"error":{"message":"no such path"}}"#).await
            }
        };
        if answered.is_err() || matches!(behavior, Behavior::CutMidStream) {
            return;
        }
    }
}

fn log_entry(req: &RawRequest, endpoint: Option<Endpoint>, behavior: &Behavior) -> LoggedRequest {
    let ct = req.header("content-type").unwrap_or("").to_owned();
    let json = ct.contains("json").then(|| serde_json::from_slice(&req.body).ok()).flatten();
    let form = if ct.starts_with("multipart/") {
        multipart::parse(&ct, &req.body).unwrap_or_default()
    } else {
        Vec::new()
    };
    LoggedRequest {
        endpoint,
        method: req.method.clone(),
        path: req.path.clone(),
        headers: req.headers.clone(),
        json,
        form,
        behavior: behavior.clone(),
    }
}
