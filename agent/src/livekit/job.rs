//! What a job handler gets and gives back: the seam between the worker and whatever the
//! agent does in a room (echo now, the voice session later).
//!
//! The worker joins the room before calling the handler, so a handler starts with a live
//! [`Room`]. The handler returns when its work is done (usually when the room closes); an
//! `Err` marks the job JS_FAILED. A panic inside a handler is caught by the worker and also
//! fails only that job.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::room::Room;

/// The job as the server described it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobInfo {
    /// Job id (`AJ_…`).
    pub id: String,
    /// Room name.
    pub room: String,
    /// Dispatch metadata (free text set by whoever created the dispatch).
    pub metadata: String,
    /// Our participant identity in the room.
    pub identity: String,
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct JobContext {
    /// The job.
    pub job: JobInfo,
    /// The joined room.
    pub room: Room,
    /// Cancelled when the server terminates the job or the worker shuts down: leave then.
    pub cancel: CancellationToken,
    /// When the assignment arrived (for latency accounting).
    pub assigned_at: Instant,
}

/// A job ended in failure; the text goes to the server (`UpdateJobStatus.error`) and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobError(pub String);

/// The future a handler returns.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs one job in a joined room.
pub trait JobHandler: Send + Sync + 'static {
    /// Runs the job to completion.
    fn run(&self, ctx: JobContext) -> JobFuture;
}
