//! Batched Smart Turn inference off the async runtime: one std thread (`turn-batch`) computes
//! the features and runs the model; sessions send it audio and await the probability.
//!
//! The thread takes whatever requests are pending when it is free — up to `max_batch` — and
//! scores them in one run. Under light load a request is scored alone at once; when sessions
//! pause at the same moment, the requests that queued during a run go together in the next.
//! A request whose asker has stopped waiting (the speaker went on) is skipped unscored. The
//! queue is bounded: when it is full the request is refused at once ([`DetectError::Busy`])
//! and the turn machine falls back to its silence timeout, so nothing waits on an overloaded
//! model.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use tokio::sync::oneshot;

use super::features::{FEATURES, MelExtractor};
use super::model::InferenceFailed;
use super::{SmartTurn, metrics};
use crate::clock;

/// Requests that may wait for the thread (each holds ≤ 8 s of 16-bit audio, 256 KB).
const QUEUE: usize = 64;

/// Why no probability came back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DetectError {
    /// The model failed.
    #[error(transparent)]
    Inference(#[from] InferenceFailed),
    /// Too many requests are waiting; this one was not queued.
    #[error("the Smart Turn queue is full")]
    Busy,
    /// The thread has stopped.
    #[error("the Smart Turn service has stopped")]
    Stopped,
}

struct Job {
    pcm: Vec<i16>,
    reply: oneshot::Sender<Result<f32, DetectError>>,
}

/// Handle to the Smart Turn thread; clone it freely. The thread stops when every handle is
/// dropped.
#[derive(Clone)]
pub struct TurnDetector {
    jobs: SyncSender<Job>,
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for TurnDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnDetector").field("running", &self.is_running()).finish()
    }
}

impl TurnDetector {
    /// Starts the thread on the shared model, scoring at most `max_batch` requests per run.
    pub fn start(model: SmartTurn, max_batch: usize) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        let stopped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopped);
        let max_batch = max_batch.max(1);
        std::thread::Builder::new().name("turn-batch".into()).spawn(move || {
            let _stop = StopOnDrop(flag);
            run(&model, &rx, max_batch);
        })?;
        Ok(Self { jobs: tx, stopped })
    }

    /// The probability that the speaker of `pcm` (16 kHz; the last 8 s are used) has finished.
    ///
    /// Cancel-safe: dropping the future withdraws the request (it is skipped if not yet run).
    pub async fn predict(&self, pcm: Vec<i16>) -> Result<f32, DetectError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job { pcm, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::metrics().busy.inc();
                return Err(DetectError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => return Err(DetectError::Stopped),
        }
        answer.await.unwrap_or(Err(DetectError::Stopped))
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        !self.stopped.load(Ordering::Acquire)
    }
}

/// Marks the service stopped when the thread ends (normally or by a panic); pending repliers
/// are dropped with the channel, so every waiter gets [`DetectError::Stopped`].
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

fn run(model: &SmartTurn, rx: &Receiver<Job>, max_batch: usize) {
    let mut extractor = MelExtractor::new();
    let mut features = vec![0.0f32; FEATURES];
    let mut probs = Vec::with_capacity(max_batch);
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    while let Ok(first) = rx.recv() {
        jobs.push(first);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // Nobody waits for these any more: the speaker went on.
        let before = jobs.len();
        jobs.retain(|j| !j.reply.is_closed());
        metrics::metrics().skipped.inc_by((before - jobs.len()) as u64);
        let n = jobs.len();
        if n == 0 {
            continue;
        }
        let started = clock::now();
        if features.len() < n * FEATURES {
            features.resize(n * FEATURES, 0.0);
        }
        for (job, out) in jobs.iter().zip(features.chunks_exact_mut(FEATURES)) {
            extractor.compute_i16(&job.pcm, out);
        }
        probs.clear();
        probs.resize(n, 0.0);
        let result = model.model().infer(&features[..n * FEATURES], &mut probs);
        metrics::record_run(clock::now().saturating_duration_since(started), n);
        if result.is_err() {
            metrics::metrics().inference_errors.inc();
        }
        for (job, &p) in jobs.drain(..).zip(&probs) {
            let reply = match &result {
                Ok(()) => Ok(p),
                Err(e) => Err(DetectError::Inference(e.clone())),
            };
            let _ = job.reply.send(reply);
        }
        // One long utterance burst must not keep a large buffer for ever.
        if features.len() > 4 * FEATURES {
            features.truncate(FEATURES);
            features.shrink_to_fit();
        }
    }
}
