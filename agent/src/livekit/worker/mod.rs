//! The Agents worker: registers with the LiveKit server over `/agent`, takes job offers
//! within its capacity, runs each job in its own task and reports job and worker status.
//!
//! - [`run_worker`] is the entry point. It is steered by a [`WorkerControl`], the same shape
//!   as the process lifecycle: `draining` stops new jobs (WS_FULL) and the worker returns
//!   once its jobs are done; `abort` ends the remaining jobs (they leave their rooms and
//!   report) and the worker returns; jobs run on the `jobs` tracker so the caller can wait
//!   for them with its own drain timeout.
//! - [`WorkerStatus`] is the shared view for readiness probes and operators: registration
//!   (watchable), draining, running jobs; [`WorkerStatus::drain`] stops taking jobs without
//!   exiting.
//! - If the server goes away the worker reconnects with jittered exponential backoff and
//!   registers again; running jobs stay in their rooms meanwhile.

pub mod capacity;
mod event_loop;
mod job;
pub mod load;

use crate::secret::Secret;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::job::JobHandler;

/// Everything the worker needs to know.
#[derive(Clone)]
pub struct WorkerSettings {
    /// Server URL (`ws://` / `wss://`); also used for rooms when an assignment names none.
    pub url: String,
    /// API key.
    pub api_key: String,
    /// API secret (prints as `<redacted>`).
    pub api_secret: Secret,
    /// Agent name; empty = automatic dispatch to every new room.
    pub agent_name: String,
    /// Hard cap on concurrent jobs.
    pub max_jobs: u32,
    /// Refuse offers at or above this CPU load (0..1).
    pub load_threshold: f64,
    /// How often the worker reports its status (the server expects ~2.5 s).
    pub status_interval: Duration,
    /// First reconnect delay.
    pub reconnect_base: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
}

impl std::fmt::Debug for WorkerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSettings")
            .field("url", &self.url)
            .field("agent_name", &self.agent_name)
            .field("max_jobs", &self.max_jobs)
            .field("load_threshold", &self.load_threshold)
            .finish_non_exhaustive()
    }
}

impl WorkerSettings {
    /// Settings for a server and credentials; capacity and timing knobs get their defaults
    /// (100 jobs, load threshold 0.7, status every 2.5 s as livekit-agents does, reconnect
    /// backoff 0.5 s doubling to 30 s).
    pub fn new(url: &str, api_key: &str, api_secret: &str, agent_name: &str) -> Self {
        Self {
            url: url.to_owned(),
            api_key: api_key.to_owned(),
            api_secret: Secret::from(api_secret),
            agent_name: agent_name.to_owned(),
            max_jobs: 100,
            load_threshold: 0.7,
            status_interval: Duration::from_millis(2500),
            reconnect_base: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
        }
    }
}

/// Registration state, with a human-readable detail for health endpoints and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// Registered with the server right now.
    pub registered: bool,
    /// "registered as AW_… with URL", or why not (the last error).
    pub detail: String,
}

/// How the caller steers a running worker.
#[derive(Debug, Clone, Default)]
pub struct WorkerControl {
    /// Cancel to drain: no new jobs; the worker returns when its jobs are done.
    pub draining: CancellationToken,
    /// Cancel to end running jobs now; the worker returns once they reported (≤ 5 s).
    pub abort: CancellationToken,
    /// Jobs are spawned here, so the caller can wait for them.
    pub jobs: TaskTracker,
}

/// Shared view of the worker for health checks.
#[derive(Debug)]
pub struct WorkerStatus {
    registration: watch::Sender<Registration>,
    draining: AtomicBool,
    running: AtomicUsize,
    drain_requested: Notify,
}

/// A handle to the worker's status (cheap to clone).
pub type WorkerStatusHandle = Arc<WorkerStatus>;

impl WorkerStatus {
    /// A fresh status (not registered).
    pub fn new_handle() -> WorkerStatusHandle {
        let (registration, _) = watch::channel(Registration { registered: false, detail: "starting".into() });
        Arc::new(Self {
            registration,
            draining: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            drain_requested: Notify::new(),
        })
    }

    /// Registered with the server right now.
    pub fn is_registered(&self) -> bool {
        self.registration.borrow().registered
    }

    /// The registration state; `changed().await` on the receiver to follow it.
    pub fn watch(&self) -> watch::Receiver<Registration> {
        self.registration.subscribe()
    }

    /// Why the worker is not registered, if it is not.
    pub fn last_error(&self) -> Option<String> {
        let r = self.registration.borrow();
        (!r.registered).then(|| r.detail.clone())
    }

    /// Draining: no new jobs are taken.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Ready for new jobs: registered and not draining (what `/readyz` reports).
    pub fn is_ready(&self) -> bool {
        self.is_registered() && !self.is_draining()
    }

    /// Jobs running now.
    pub fn running_jobs(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Stops taking new jobs (running ones continue).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
        self.drain_requested.notify_one();
    }

    pub(crate) fn set_registration(&self, registration: Registration) {
        self.registration.send_if_modified(|r| {
            let changed = *r != registration;
            *r = registration;
            changed
        });
    }

    pub(crate) fn set_running(&self, running: usize) {
        self.running.store(running, Ordering::Release);
    }
}

/// Runs the worker until it is drained (and its jobs are done) or aborted.
///
/// Never returns early and never panics on server or network trouble: it reconnects.
pub async fn run_worker(
    settings: WorkerSettings,
    handler: Arc<dyn JobHandler>,
    status: WorkerStatusHandle,
    control: WorkerControl,
) {
    event_loop::Worker::new(settings, handler, status).run(control).await;
}
