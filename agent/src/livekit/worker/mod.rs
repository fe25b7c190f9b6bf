//! The Agents worker: registers with the LiveKit server over `/agent`, takes job offers
//! within its capacity, runs each job in its own task and reports job and worker status.
//!
//! - [`run_worker`] is the entry point: it runs until `shutdown` is cancelled, then drains
//!   (no new jobs, WS_FULL) for at most the drain timeout before ending remaining jobs.
//! - [`WorkerStatus`] is the shared view for readiness probes and operators: registered,
//!   draining, running jobs; [`WorkerStatus::drain`] stops taking jobs without exiting.
//! - If the server goes away the worker reconnects with jittered exponential backoff and
//!   registers again; running jobs stay in their rooms meanwhile.

pub mod capacity;
mod core;
mod job;
pub mod load;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::job::JobHandler;
use crate::config::{LiveKitConfig, WorkerConfig};

/// Everything the worker needs to know.
#[derive(Clone)]
pub struct WorkerSettings {
    /// Server URL (`ws://` / `wss://`); also used for rooms when an assignment names none.
    pub url: String,
    /// API key.
    pub api_key: String,
    /// API secret.
    pub api_secret: String,
    /// Agent name; empty = automatic dispatch to every new room.
    pub agent_name: String,
    /// Hard cap on concurrent jobs.
    pub max_jobs: u32,
    /// Refuse offers at or above this CPU load (0..1).
    pub load_threshold: f64,
    /// How long a shutdown waits for running jobs.
    pub drain_timeout: Duration,
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
            .field("drain_timeout", &self.drain_timeout)
            .finish_non_exhaustive()
    }
}

impl WorkerSettings {
    /// Settings from the parsed configuration; timing knobs get their defaults
    /// (status every 2.5 s as livekit-agents does, reconnect backoff 0.5 s doubling to 30 s).
    pub fn new(livekit: &LiveKitConfig, worker: &WorkerConfig) -> Self {
        Self {
            url: livekit.url.clone(),
            api_key: livekit.api_key.clone(),
            api_secret: livekit.api_secret.clone(),
            agent_name: livekit.agent_name.clone(),
            max_jobs: worker.max_jobs,
            load_threshold: worker.load_threshold,
            drain_timeout: worker.drain_timeout,
            status_interval: Duration::from_millis(2500),
            reconnect_base: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
        }
    }
}

/// Shared, lock-free view of the worker for health checks.
#[derive(Debug, Default)]
pub struct WorkerStatus {
    registered: AtomicBool,
    draining: AtomicBool,
    running: AtomicUsize,
    drain_requested: Notify,
    last_error: Mutex<Option<String>>,
}

/// A handle to the worker's status (cheap to clone).
pub type WorkerStatusHandle = Arc<WorkerStatus>;

impl WorkerStatus {
    /// A fresh status (not registered).
    pub fn new_handle() -> WorkerStatusHandle {
        Arc::new(Self::default())
    }

    /// Registered with the server right now.
    pub fn is_registered(&self) -> bool {
        self.registered.load(Ordering::Acquire)
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

    /// Stops taking new jobs (running ones continue). Shutdown implies this.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
        self.drain_requested.notify_one();
    }

    /// Why the last registration attempt or connection failed (cleared on registration).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or_default()
    }

    pub(crate) fn set_last_error(&self, error: Option<String>) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = error;
        }
    }

    pub(crate) fn set_registered(&self, registered: bool) {
        self.registered.store(registered, Ordering::Release);
    }

    pub(crate) fn set_running(&self, running: usize) {
        self.running.store(running, Ordering::Release);
    }
}

/// Runs the worker until `shutdown` is cancelled, then drains and returns.
///
/// Never returns early and never panics on server or network trouble: it reconnects.
pub async fn run_worker(
    settings: WorkerSettings,
    handler: Arc<dyn JobHandler>,
    status: WorkerStatusHandle,
    shutdown: CancellationToken,
) {
    core::Worker::new(settings, handler, status).run(shutdown).await;
}
