//! The fake's shared state: scripted behaviours, replies, the request log and the counters.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tokio::sync::{Semaphore, watch};

use super::behavior::{Behavior, Endpoint, Replies};
use super::multipart::FormPart;
use super::script::ChatReply;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// The endpoint, if the path named one.
    pub endpoint: Option<Endpoint>,
    /// `POST`, …
    pub method: String,
    /// The request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The JSON body, for JSON requests.
    pub json: Option<Value>,
    /// The form parts, for multipart requests.
    pub form: Vec<FormPart>,
    /// How the fake answered it.
    pub behavior: Behavior,
}

impl LoggedRequest {
    /// A header's value (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A form field's text.
    pub fn field(&self, name: &str) -> Option<String> {
        self.form.iter().find(|p| p.name == name).map(FormPart::text)
    }

    /// Chat: the request's `tools` array (empty when it sent none).
    pub fn tools(&self) -> Vec<Value> {
        self.json.as_ref().and_then(|j| j.get("tools")).and_then(Value::as_array).cloned().unwrap_or_default()
    }

    /// Chat: the names of the tools offered.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools()
            .iter()
            .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Chat: the request's `messages`.
    pub fn messages(&self) -> Vec<Value> {
        self.json
            .as_ref()
            .and_then(|j| j.get("messages"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// Chat: the messages with this `role` (`system`, `user`, `assistant`, `tool`).
    pub fn messages_of(&self, role: &str) -> Vec<Value> {
        self.messages().into_iter().filter(|m| m.get("role").and_then(Value::as_str) == Some(role)).collect()
    }

    /// The `model` of the JSON body or the form.
    pub fn model(&self) -> Option<String> {
        self.json
            .as_ref()
            .and_then(|j| j.get("model"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| self.field("model"))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything the connections share.
pub struct State {
    queues: Mutex<[VecDeque<Behavior>; 3]>,
    defaults: Mutex<[Behavior; 3]>,
    replies: Mutex<Replies>,
    chat_script: Mutex<VecDeque<ChatReply>>,
    log: Mutex<Vec<LoggedRequest>>,
    open: AtomicUsize,
    active: AtomicUsize,
    gate: Semaphore,
    /// Bumped on every change a test may wait for.
    changed: watch::Sender<u64>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            queues: Mutex::new(Default::default()),
            defaults: Mutex::new([Behavior::Normal, Behavior::Normal, Behavior::Normal]),
            replies: Mutex::new(Replies::default()),
            chat_script: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            changed: watch::channel(0).0,
        }
    }
}

impl State {
    pub fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn push(&self, e: Endpoint, b: Behavior) {
        lock(&self.queues)[e.index()].push_back(b);
    }

    pub fn set_default(&self, e: Endpoint, b: Behavior) {
        lock(&self.defaults)[e.index()] = b;
    }

    pub fn clear_queues(&self) {
        for q in lock(&self.queues).iter_mut() {
            q.clear();
        }
    }

    /// The behaviour for the next request to `e`: the queue's head, else the default.
    pub fn next_behavior(&self, e: Endpoint) -> Behavior {
        lock(&self.queues)[e.index()].pop_front().unwrap_or_else(|| lock(&self.defaults)[e.index()].clone())
    }

    pub fn replies(&self) -> Replies {
        lock(&self.replies).clone()
    }

    pub fn edit_replies(&self, f: impl FnOnce(&mut Replies)) {
        f(&mut lock(&self.replies));
    }

    pub fn push_chat(&self, reply: ChatReply) {
        lock(&self.chat_script).push_back(reply);
    }

    /// The next scripted chat answer, if any.
    pub fn next_chat(&self) -> Option<ChatReply> {
        lock(&self.chat_script).pop_front()
    }

    pub fn clear_chat_script(&self) {
        lock(&self.chat_script).clear();
    }

    pub fn log(&self, r: LoggedRequest) {
        lock(&self.log).push(r);
        self.bump();
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).clone()
    }

    pub fn forget_requests(&self) {
        lock(&self.log).clear();
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    pub async fn gate_wait(&self) {
        if let Ok(p) = self.gate.acquire().await {
            p.forget();
        }
    }

    pub fn count(&self, which: Counter) -> CounterGuard<'_> {
        let c = match which {
            Counter::Open => &self.open,
            Counter::Active => &self.active,
        };
        c.fetch_add(1, Ordering::SeqCst);
        self.bump();
        CounterGuard { state: self, counter: c }
    }
}

/// Which counter a guard holds.
pub enum Counter {
    /// Open TCP connections.
    Open,
    /// Responses being written.
    Active,
}

/// Decrements its counter when dropped.
pub struct CounterGuard<'a> {
    state: &'a State,
    counter: &'a AtomicUsize,
}

impl Drop for CounterGuard<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
        self.state.bump();
    }
}
