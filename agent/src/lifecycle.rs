//! Process lifecycle: the shutdown signal, the set of running jobs, and the drain.
//!
//! SIGTERM/SIGINT → draining: readiness turns 503, the worker takes no new jobs and tells
//! LiveKit it is full, running sessions finish on their own; after the drain timeout the
//! process exits anyway. A second signal exits at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared lifecycle handles. Cheap to clone.
#[derive(Clone, Default)]
pub struct Lifecycle {
    /// Cancelled when the process starts draining.
    pub draining: CancellationToken,
    /// Cancelled when running jobs must stop now (drain timeout or second signal).
    pub abort: CancellationToken,
    /// Every running job is spawned on this tracker.
    pub jobs: TaskTracker,
}

/// How the drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every job finished in time.
    Clean,
    /// The drain timeout passed with jobs still running.
    TimedOut,
}

impl Lifecycle {
    /// A new lifecycle with nothing running.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until every job is done or `timeout` passes; then aborts what remains.
    pub async fn drain(&self, timeout: Duration) -> DrainOutcome {
        self.draining.cancel();
        self.jobs.close();
        let outcome = match tokio::time::timeout(timeout, self.jobs.wait()).await {
            Ok(()) => DrainOutcome::Clean,
            Err(_) => DrainOutcome::TimedOut,
        };
        self.abort.cancel();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_jobs_then_times_out() {
        let l = Lifecycle::new();
        let abort = l.abort.clone();
        l.jobs.spawn(async move { abort.cancelled().await });
        let short = l.clone();
        l.jobs.spawn(async { tokio::time::sleep(Duration::from_secs(1)).await });
        assert_eq!(short.drain(Duration::from_secs(5)).await, DrainOutcome::TimedOut);
        assert!(l.abort.is_cancelled());

        let l = Lifecycle::new();
        l.jobs.spawn(async { tokio::time::sleep(Duration::from_secs(1)).await });
        assert_eq!(l.drain(Duration::from_secs(5)).await, DrainOutcome::Clean);
    }
}
