//! One job's life: join the room with the assignment's token, hand the room to the handler,
//! report how it ended. A join failure, a handler error and a handler panic all end as
//! JS_FAILED for this job only.

use crate::secret::Secret;
use std::sync::Arc;
use std::time::Instant;

use livekit_protocol::JobStatus;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::livekit::job::{JobContext, JobHandler, JobInfo};
use crate::livekit::room::{self, JoinOptions};

/// A job's status change, sent to the worker loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobUpdate {
    /// Job id.
    pub job_id: String,
    /// JS_RUNNING, JS_SUCCESS or JS_FAILED.
    pub status: JobStatus,
    /// Why it failed (empty otherwise).
    pub error: String,
}

/// What a job needs to start.
pub struct Launch {
    pub info: JobInfo,
    pub url: String,
    pub token: Secret,
    pub assigned_at: Instant,
    pub cancel: CancellationToken,
}

/// Runs the job to its end, reporting on `updates`.
pub async fn run(launch: Launch, handler: Arc<dyn JobHandler>, updates: mpsc::Sender<JobUpdate>) {
    let job_id = launch.info.id.clone();
    let report = |status: JobStatus, error: String| {
        let updates = updates.clone();
        let job_id = job_id.clone();
        async move {
            let _ = updates.send(JobUpdate { job_id, status, error }).await;
        }
    };
    let options = JoinOptions::new(&launch.url, launch.token.clone(), launch.assigned_at);
    let room = tokio::select! {
        _ = launch.cancel.cancelled() => {
            report(JobStatus::JsSuccess, String::new()).await;
            return;
        }
        joined = room::join(options) => match joined {
            Ok(room) => room,
            Err(e) => {
                tracing::error!(job = %job_id, room = %launch.info.room, error = %e, "job failed: cannot join the room");
                report(JobStatus::JsFailed, format!("cannot join the room: {e}")).await;
                return;
            }
        },
    };
    report(JobStatus::JsRunning, String::new()).await;
    let ctx =
        JobContext { job: launch.info.clone(), room, cancel: launch.cancel, assigned_at: launch.assigned_at };
    // The handler runs in its own task so that a panic in it is caught here.
    let outcome = tokio::spawn(handler.run(ctx)).await;
    match outcome {
        Ok(Ok(())) => {
            tracing::info!(job = %job_id, room = %launch.info.room, "job finished");
            report(JobStatus::JsSuccess, String::new()).await;
        }
        Ok(Err(e)) => {
            tracing::error!(job = %job_id, room = %launch.info.room, error = %e, "job failed");
            report(JobStatus::JsFailed, e.to_string()).await;
        }
        Err(e) => {
            tracing::error!(job = %job_id, room = %launch.info.room, error = %e, "job panicked");
            report(JobStatus::JsFailed, format!("job panicked: {e}")).await;
        }
    }
}
