//! Our worker, run in-process against a test server (real sockets, real protocol).

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::job::JobHandler;
use voice_agent::livekit::worker::{
    WorkerControl, WorkerSettings, WorkerStatus, WorkerStatusHandle, run_worker,
};

use super::{API_KEY, API_SECRET, LiveKitServer, client};

/// A worker task and its controls.
pub struct RunningWorker {
    /// Registration and job counts.
    pub status: WorkerStatusHandle,
    control: WorkerControl,
    handle: tokio::task::JoinHandle<()>,
}

/// Worker settings for tests: short reconnect backoff so restarts are quick.
pub fn settings(url: &str, max_jobs: u32) -> WorkerSettings {
    WorkerSettings {
        url: url.to_owned(),
        api_key: API_KEY.to_owned(),
        api_secret: API_SECRET.into(),
        agent_name: String::new(),
        max_jobs,
        load_threshold: 1.0,
        status_interval: Duration::from_millis(500),
        reconnect_base: Duration::from_millis(100),
        reconnect_max: Duration::from_millis(500),
    }
}

/// Starts a worker on the current tokio runtime.
pub fn spawn(settings: WorkerSettings, handler: Arc<dyn JobHandler>) -> RunningWorker {
    let status = WorkerStatus::new_handle();
    let control = WorkerControl::default();
    let handle = tokio::spawn(run_worker(settings, handler, status.clone(), control.clone()));
    RunningWorker { status, control, handle }
}

/// [`spawn`], then waits (15 s at most) until the worker has registered with the server.
pub async fn spawn_registered(settings: WorkerSettings, handler: Arc<dyn JobHandler>) -> RunningWorker {
    let worker = spawn(settings, handler);
    let status = worker.status.clone();
    wait_until("worker registered", Duration::from_secs(15), || status.is_registered()).await;
    worker
}

impl RunningWorker {
    /// Shuts the worker down as the process does: drain, wait for jobs up to `drain_timeout`,
    /// abort the rest, wait for the worker to return.
    pub async fn stop_with(self, drain_timeout: Duration) {
        self.control.draining.cancel();
        self.control.jobs.close();
        let _ = tokio::time::timeout(drain_timeout, self.control.jobs.wait()).await;
        self.control.abort.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.handle).await;
    }

    /// [`RunningWorker::stop_with`] a 5 s drain timeout.
    pub async fn stop(self) {
        self.stop_with(Duration::from_secs(5)).await;
    }

    /// Whether the worker task has ended (it never should on its own).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

/// Polls `cond` every 50 ms; panics with `what` if it does not hold within `limit`.
/// (A generous bound on waiting for an event, not a speed assertion.)
pub async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let mut waited = Duration::ZERO;
    while !cond() {
        assert!(waited < limit, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
}

/// What livekit-server logs when it finds no worker for a job ("failed to send job request:
/// no servers available").
const DISPATCH_FAILED: &str = "failed to send job request";

/// Creates `room` and waits until the server reports that no worker took its job.
/// (Needs the multi-threaded runtime: the client runs in `block_in_place`.)
pub async fn create_room_no_worker_takes(server: &LiveKitServer, room: &str) {
    let before = server.log().matches(DISPATCH_FAILED).count();
    tokio::task::block_in_place(|| client::create_room(server, room));
    wait_until(&format!("the server found no worker for room {room}"), Duration::from_secs(20), || {
        server.log().matches(DISPATCH_FAILED).count() > before
    })
    .await;
}

/// Agent identities in `room`, waiting up to 10 s for at least one to appear.
pub fn agents_in(server: &LiveKitServer, room: &str) -> Vec<String> {
    tokio::task::block_in_place(|| {
        let mut found = Vec::new();
        for _ in 0..100 {
            found =
                client::participants(server, room).into_iter().filter(|i| i.starts_with("agent-")).collect();
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        found
    })
}
