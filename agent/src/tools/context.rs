//! What a running tool knows and can do: the room, who asked, the job it serves, its call id,
//! a way to say something while it works, whether the user has moved on — and a slot where
//! a tool leaves a request for the session after its step (a handoff, see
//! `crate::agent::handoff`).

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::livekit::job::JobInfo;

/// Sentences a session's tools may queue to be spoken at once, at most (more are dropped).
pub const SAY_QUEUE: usize = 8;

/// The context of one tool call.
///
/// ```
/// # async fn demo() {
/// use voice_agent::tools::ToolContext;
/// let (ctx, mut said) = ToolContext::detached("room-1", "alice");
/// assert!(ctx.say("Let me look that up."));
/// assert_eq!(said.recv().await.as_deref(), Some("Let me look that up."));
/// assert_eq!((ctx.room(), ctx.speaker()), ("room-1", "alice"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ToolContext {
    room: Arc<str>,
    speaker: Arc<str>,
    job: Arc<JobInfo>,
    call_id: Arc<str>,
    say: mpsc::Sender<String>,
    cancel: CancellationToken,
    /// What a tool of this step left for the session (shared by the step's calls).
    left: Arc<Mutex<Option<Box<dyn Any + Send>>>>,
}

impl ToolContext {
    /// A context for the calls of one LLM step: `say` is where spoken sentences go, `cancel`
    /// fires on barge-in.
    pub fn new(
        job: Arc<JobInfo>,
        speaker: Arc<str>,
        say: mpsc::Sender<String>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            room: Arc::from(job.room.as_str()),
            speaker,
            job,
            call_id: Arc::from(""),
            say,
            cancel,
            left: Arc::default(),
        }
    }

    /// A context outside any session (tests, tools run by hand), with the receiving end of
    /// what its tools say.
    pub fn detached(room: &str, speaker: &str) -> (Self, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(SAY_QUEUE);
        let job = JobInfo { room: room.to_owned(), ..JobInfo::default() };
        (Self::new(Arc::new(job), Arc::from(speaker), tx, CancellationToken::new()), rx)
    }

    /// The same context for one call.
    pub(crate) fn for_call(&self, call_id: &str) -> Self {
        Self { call_id: Arc::from(call_id), cancel: self.cancel.child_token(), ..self.clone() }
    }

    /// The room's name.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The identity of the participant whose turn led to this call.
    pub fn speaker(&self) -> &str {
        &self.speaker
    }

    /// The job: its id, room, dispatch metadata.
    pub fn job(&self) -> &JobInfo {
        &self.job
    }

    /// This call's id (as the LLM sent it).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Queues a sentence to be spoken now, while the tool keeps running ("Let me check the
    /// calendar."). Never waits: `false` when the queue is full or nobody listens any more.
    pub fn say(&self, text: impl Into<String>) -> bool {
        self.say.try_send(text.into()).is_ok()
    }

    /// Whether the user interrupted (the call's result will not be used).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when the user interrupts; a long tool may stop early then (it is also
    /// dropped at its next await).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Leaves `value` for the session to pick up after the step (the last one wins).
    pub(crate) fn leave(&self, value: Box<dyn Any + Send>) {
        *self.left.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    /// Takes what a tool left.
    pub(crate) fn take_left(&self) -> Option<Box<dyn Any + Send>> {
        self.left.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
