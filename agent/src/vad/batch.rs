//! Batched inference across streams: one std thread owns the model runs; async streams hand
//! it their windows and await their probability.
//!
//! The thread takes whatever windows are pending when it is free — up to `max_batch` — and
//! scores them in one run, each with its stream's own state. Under light load a window is
//! scored alone at once (no waiting to fill a batch); as sessions grow, windows queue while a
//! run is going and the next run takes them together, so the cost per window falls. Each
//! stream has at most one window in flight, so a batch never holds a stream twice and its
//! state is always the one its previous window left.
//!
//! Nothing is allocated per window: the queue is a preallocated `sync_channel` whose room is
//! counted by an async semaphore (so a full queue makes senders wait without blocking the
//! runtime), a job is an `Arc` clone of the stream's slot, and the answer is left in the slot
//! with a `Notify`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};

use crate::clock;
use crate::core::segmenter::{SegmentEvent, Segmenter, SegmenterConfig, WINDOW};
use crate::vad::frontend::{InputFrame, InputStats};
use crate::vad::intake::Intake;
use crate::vad::model::{InferenceFailed, StreamState};
use crate::vad::{Vad, VadError, metrics};

/// Windows that may wait for the thread before senders are held back.
const QUEUE: usize = 1024;

type Reply = Result<f32, InferenceFailed>;

/// A stream's place at the batching thread.
struct Slot {
    state: Mutex<StreamState>,
    reply: Mutex<Option<Reply>>,
    ready: Notify,
}

/// What the streams and the thread share: room in the queue, and whether the thread stopped.
struct Admission {
    room: Semaphore,
    stopped: AtomicBool,
}

/// Handle to the batching thread; clone it freely. The thread stops when every handle and
/// stream is dropped.
#[derive(Clone)]
pub struct VadService {
    jobs: SyncSender<Arc<Slot>>,
    shared: Arc<Admission>,
}

impl std::fmt::Debug for VadService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VadService").field("running", &self.is_running()).finish()
    }
}

impl VadService {
    /// Starts the batching thread (`vad-batch`) on the shared model.
    pub fn start(vad: Vad, max_batch: usize) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        let shared = Arc::new(Admission { room: Semaphore::new(QUEUE), stopped: AtomicBool::new(false) });
        let max_batch = max_batch.max(1);
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new().name("vad-batch".into()).spawn(move || {
            let mut worker = Worker { shared: thread_shared, rx, jobs: Vec::with_capacity(max_batch) };
            worker.run(&vad, max_batch);
        })?;
        Ok(Self { jobs: tx, shared })
    }

    /// A new stream scored through this service.
    pub fn stream(&self, segmenter: SegmenterConfig) -> BatchedStream {
        BatchedStream {
            jobs: self.jobs.clone(),
            shared: Arc::clone(&self.shared),
            slot: Arc::new(Slot {
                state: Mutex::new(StreamState::default()),
                reply: Mutex::new(None),
                ready: Notify::new(),
            }),
            front: Intake::default(),
            segmenter: Segmenter::new(segmenter),
            in_flight: None,
        }
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        !self.shared.stopped.load(Ordering::Acquire)
    }
}

/// The batching thread's state. Dropping it (normal end or a panic) marks the service
/// stopped and wakes every stream it still owes an answer, so none waits forever.
struct Worker {
    shared: Arc<Admission>,
    rx: Receiver<Arc<Slot>>,
    jobs: Vec<Arc<Slot>>,
}

impl Worker {
    fn run(&mut self, vad: &Vad, max_batch: usize) {
        let mut states: Vec<StreamState> = vec![StreamState::default(); max_batch];
        let mut probs = vec![0.0f32; max_batch];
        while let Ok(first) = self.rx.recv() {
            self.jobs.push(first);
            while self.jobs.len() < max_batch {
                match self.rx.try_recv() {
                    Ok(job) => self.jobs.push(job),
                    Err(_) => break,
                }
            }
            let n = self.jobs.len();
            self.shared.room.add_permits(n);
            for (job, state) in self.jobs.iter().zip(&mut states) {
                state.clone_from(&job.state.lock().unwrap_or_else(|e| e.into_inner()));
            }
            let started = clock::now();
            let result = vad.model().infer(&mut states[..n], &mut probs[..n]);
            metrics::metrics().runs.record(clock::now().saturating_duration_since(started), n);
            if result.is_err() {
                metrics::metrics().runs.inference_errors.inc();
            }
            for (i, job) in self.jobs.drain(..).enumerate() {
                let reply = match &result {
                    Ok(()) => {
                        job.state.lock().unwrap_or_else(|e| e.into_inner()).clone_from(&states[i]);
                        Ok(probs[i])
                    }
                    Err(e) => Err(e.clone()),
                };
                *job.reply.lock().unwrap_or_else(|e| e.into_inner()) = Some(reply);
                job.ready.notify_one();
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.room.close();
        for job in self.jobs.drain(..).chain(self.rx.try_iter()) {
            job.ready.notify_one();
        }
    }
}

/// One participant's audio through the batching service: frames in, [`SegmentEvent`]s out.
pub struct BatchedStream {
    jobs: SyncSender<Arc<Slot>>,
    shared: Arc<Admission>,
    slot: Arc<Slot>,
    front: Intake,
    segmenter: Segmenter,
    /// The window sent and not yet answered (kept if a `push` was cancelled while waiting).
    in_flight: Option<[f32; WINDOW]>,
}

impl std::fmt::Debug for BatchedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedStream").field("speaking", &self.is_speaking()).finish_non_exhaustive()
    }
}

impl BatchedStream {
    /// Consumes one frame, scoring its windows through the service; events go to `out`.
    ///
    /// Cancel-safe for the window in flight: if the future is dropped while waiting, that
    /// window's result is taken on the next call. The rest of a cancelled frame is lost.
    pub async fn push(&mut self, frame: InputFrame<'_>, out: &mut Vec<SegmentEvent>) -> Result<(), VadError> {
        self.settle(out).await?;
        let mut feed = self.front.feed(frame)?;
        while let Some(window) = feed.next_window() {
            let permit = self.shared.room.acquire().await.map_err(|_| VadError::ServiceStopped)?;
            permit.forget(); // given back by the thread when it takes the job
            self.slot.state.lock().unwrap_or_else(|e| e.into_inner()).set_window(&window);
            match self.jobs.try_send(Arc::clone(&self.slot)) {
                Ok(()) => {}
                // Room is counted by the semaphore, so `Full` means the thread is gone.
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    return Err(VadError::ServiceStopped);
                }
            }
            self.in_flight = Some(window);
            Self::answer(&self.slot, &self.shared, &mut self.in_flight, &mut self.segmenter, out).await?;
        }
        self.front.publish_repairs();
        Ok(())
    }

    /// Ends the stream: speech in progress is emitted as an utterance.
    pub async fn finish(&mut self, out: &mut Vec<SegmentEvent>) -> Result<(), VadError> {
        self.settle(out).await?;
        self.segmenter.finish(out);
        Ok(())
    }

    /// Whether an announced utterance is in progress.
    pub fn is_speaking(&self) -> bool {
        self.segmenter.is_speaking()
    }

    /// Input repairs and refusals so far.
    pub fn input_stats(&self) -> InputStats {
        self.front.stats()
    }

    /// Takes the answer for a window left in flight by a cancelled `push`.
    async fn settle(&mut self, out: &mut Vec<SegmentEvent>) -> Result<(), VadError> {
        Self::answer(&self.slot, &self.shared, &mut self.in_flight, &mut self.segmenter, out).await
    }

    async fn answer(
        slot: &Slot,
        shared: &Admission,
        in_flight: &mut Option<[f32; WINDOW]>,
        segmenter: &mut Segmenter,
        out: &mut Vec<SegmentEvent>,
    ) -> Result<(), VadError> {
        let Some(window) = in_flight.as_ref() else { return Ok(()) };
        let reply = loop {
            // `notify_one` keeps a wake-up for a waiter that comes later, so checking first
            // and waiting after loses nothing.
            if let Some(reply) = slot.reply.lock().unwrap_or_else(|e| e.into_inner()).take() {
                break reply;
            }
            if shared.stopped.load(Ordering::Acquire) {
                return Err(VadError::ServiceStopped);
            }
            slot.ready.notified().await;
        };
        let window = *window;
        *in_flight = None;
        segmenter.push_window(&window, reply?, out);
        Ok(())
    }
}
