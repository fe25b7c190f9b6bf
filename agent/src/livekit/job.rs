//! What a job handler gets and gives back: the seam between the worker and whatever the
//! agent does in a room (echo now, the voice session later).
//!
//! The worker joins the room before calling the handler, so a handler starts with a live
//! [`Room`]. The handler returns when its work is done (usually when the room closes); an
//! `Err` marks the job JS_FAILED. A panic inside a handler is caught by the worker and also
//! fails only that job.

use std::collections::BTreeMap;
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
    /// Dispatch metadata (free text set by whoever created the dispatch, e.g. the
    /// `metadata` of `CreateDispatch`).
    pub metadata: String,
    /// Our participant identity in the room.
    pub identity: String,
    /// The participant the job was dispatched for (participant jobs), if any.
    pub participant: Option<JobParticipant>,
}

/// The participant a job was dispatched for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobParticipant {
    /// Identity.
    pub identity: String,
    /// Display name.
    pub name: String,
    /// Attributes (`lk.*` and the application's own).
    pub attributes: BTreeMap<String, String>,
}

/// Dispatch metadata that is not the JSON the agent expects.
#[derive(Debug, thiserror::Error)]
#[error("job metadata is not the expected JSON: {0}")]
pub struct MetadataError(#[from] serde_json::Error);

impl JobInfo {
    /// The dispatch metadata as text (empty when none was given).
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The dispatch metadata parsed as JSON into `T`.
    ///
    /// ```
    /// use voice_agent::livekit::job::JobInfo;
    /// #[derive(serde::Deserialize)]
    /// struct Meta { branch: String }
    /// let job = JobInfo { metadata: r#"{"branch": "Harbour Street"}"#.into(), ..JobInfo::default() };
    /// assert_eq!(job.metadata_as::<Meta>().unwrap().branch, "Harbour Street");
    /// assert!(JobInfo::default().metadata_as::<Meta>().is_err());
    /// ```
    pub fn metadata_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, MetadataError> {
        Ok(serde_json::from_str(&self.metadata)?)
    }

    /// The room's name.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// An attribute of the participant the job was dispatched for.
    pub fn participant_attribute(&self, key: &str) -> Option<&str> {
        self.participant.as_ref()?.attributes.get(key).map(String::as_str)
    }
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
