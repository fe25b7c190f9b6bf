//! Batched Smart Turn inference off the async runtime: one std thread (`turn-batch`) computes
//! the features and runs the model; sessions send it audio and await the probability.
//!
//! The thread takes the *newest* pending requests when it is free — up to `max_batch` — and
//! scores them in one run. Under light load a request is scored alone at once; when sessions
//! pause at the same moment, the requests that queued during a run go together in the next.
//! A request whose asker has stopped waiting (the speaker went on) is skipped unscored, and so
//! is one that has waited `max_wait` (`TURN_MODEL_WAIT_SECS`): by then the turn machine has
//! ended the pause on silence, and its verdict would cost a run and help nobody
//! ([`DetectError::Late`]). Newest first because of that deadline: when more pauses come in
//! than the model can score, the oldest are the ones already lost, and scoring them first
//! would make every answer late. The queue is bounded: when it is full the request is refused
//! at once ([`DetectError::Busy`]) and the turn machine falls back to its silence timeout, so
//! nothing waits on an overloaded model.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

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
    /// The request waited its longest wait in the queue; it was not scored.
    #[error("no Smart Turn verdict in time")]
    Late,
    /// The thread has stopped.
    #[error("the Smart Turn service has stopped")]
    Stopped,
}

struct Job {
    pcm: Vec<i16>,
    queued: Instant,
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
    /// Starts the thread on the shared model, scoring at most `max_batch` requests per run;
    /// a request that has waited `max_wait` is answered [`DetectError::Late`] unscored.
    pub fn start(model: SmartTurn, max_batch: usize, max_wait: Duration) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        let stopped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopped);
        let max_batch = max_batch.max(1);
        std::thread::Builder::new().name("turn-batch".into()).spawn(move || {
            let _stop = StopOnDrop(flag);
            run(&model, &rx, max_batch, max_wait);
        })?;
        Ok(Self { jobs: tx, stopped })
    }

    /// The probability that the speaker of `pcm` (16 kHz; the last 8 s are used) has finished.
    ///
    /// Cancel-safe: dropping the future withdraws the request (it is skipped if not yet run).
    pub async fn predict(&self, pcm: Vec<i16>) -> Result<f32, DetectError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job { pcm, queued: clock::now(), reply }) {
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

fn run(model: &SmartTurn, rx: &Receiver<Job>, max_batch: usize, max_wait: Duration) {
    let mut extractor = MelExtractor::new();
    let mut features = vec![0.0f32; FEATURES];
    let mut probs = Vec::with_capacity(max_batch);
    // Everything received and not yet scored, oldest first (at most QUEUE + max_batch).
    let mut pending: Vec<Job> = Vec::with_capacity(QUEUE);
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    // Wall time of one item's features and model run, smoothed over the last runs.
    let mut per_item = Duration::ZERO;
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(job) => pending.push(job),
                Err(_) => return,
            }
        }
        while let Ok(job) = rx.try_recv() {
            pending.push(job);
        }
        let now = clock::now();
        let m = metrics::metrics();
        pending.retain(|j| {
            if j.reply.is_closed() {
                // Nobody waits for it any more: the speaker went on.
                m.skipped.inc();
                return false;
            }
            true
        });
        let queued: Vec<Instant> = pending.iter().map(|j| j.queued).collect();
        let hopeless = hopeless(&queued, now, max_wait, per_item);
        m.late.inc_by(hopeless as u64);
        for j in pending.drain(..hopeless) {
            let _ = j.reply.send(Err(DetectError::Late));
        }
        let n = pending.len().min(max_batch);
        if n == 0 {
            continue;
        }
        // The newest: the ones whose askers can still use the answer longest.
        jobs.extend(pending.drain(pending.len() - n..));
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
        let took = clock::now().saturating_duration_since(started);
        m.runs.record(took, n);
        // What one more item costs now (batches save no time: the model's compute dominates).
        per_item = (per_item * 3 + took / n as u32) / 4;
        if result.is_err() {
            m.runs.inference_errors.inc();
        }
        for (job, &p) in jobs.drain(..).zip(&probs) {
            let reply = match &result {
                Ok(()) => Ok(p),
                Err(e) => Err(DetectError::Inference(e.clone())),
            };
            let _ = job.reply.send(reply);
        }
        // One burst of simultaneous pauses must not keep a large buffer for ever.
        if features.len() > 4 * FEATURES {
            features.truncate(FEATURES);
            features.shrink_to_fit();
        }
    }
}

/// How many of the oldest pending requests (`queued`, oldest first) cannot be answered within
/// `max_wait` of their queueing: taken newest first at `per_item` each, the one `k` places
/// from the newest is done at `now + (k + 1) × per_item`. An older request waits longer and
/// expires sooner, so the hopeless ones are always a prefix.
fn hopeless(queued: &[Instant], now: Instant, max_wait: Duration, per_item: Duration) -> usize {
    let n = queued.len();
    let in_time = |i: usize| now + per_item * (n - i) as u32 <= queued[i] + max_wait;
    // The newest request that would be late; it and every older one are hopeless.
    (0..n)
        .rev()
        .find(|&i| !in_time(i) || now.saturating_duration_since(queued[i]) >= max_wait)
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_requests_are_given_up_when_they_cannot_be_answered_in_time() {
        let ms = Duration::from_millis;
        let t0 = clock::now();
        let wait = ms(500);
        // Nothing measured yet: only requests past their wait are given up.
        assert_eq!(hopeless(&[t0, t0 + ms(100)], t0 + ms(500), wait, Duration::ZERO), 1);
        assert_eq!(hopeless(&[t0, t0 + ms(100)], t0 + ms(499), wait, Duration::ZERO), 0);
        assert_eq!(hopeless(&[], t0, wait, ms(50)), 0);
        // 100 ms per item, ten requests queued 0..450 ms ago, newest first: the newest is done
        // at +100 ms, the k-th newest at +(k + 1) × 100 ms.
        let queued: Vec<Instant> = (0..10).map(|i| t0 + ms(50 * i)).collect();
        let now = t0 + ms(450);
        // Deadlines t0 + 500 + 50i; finishes now + (10 - i) × 100 = t0 + 1450 - 100i: in time
        // when 1450 - 100i ≤ 500 + 50i, i.e. i ≥ 7; 7, 8, 9 kept, 0..=6 given up.
        assert_eq!(hopeless(&queued, now, wait, ms(100)), 7);
        // A fast model keeps them all.
        assert_eq!(hopeless(&queued, now, wait, ms(5)), 0);
        // A model slower than the wait itself cannot answer anyone.
        assert_eq!(hopeless(&queued, now, wait, ms(600)), 10);
    }
}
