//! Batched inference across streams: one std thread owns the model runs; async streams send
//! it their windows over a channel and await their probability.
//!
//! The thread takes whatever windows are pending when it is free — up to `max_batch` — and
//! scores them in one run, each with its stream's own state. Under light load a window is
//! scored alone at once (no waiting to fill a batch); as sessions grow, windows queue while a
//! run is going and the next run takes them together, so the cost per window falls. Each
//! stream has at most one window in flight, so a batch never holds a stream twice and its
//! state is always the one its previous window left.
//!
//! Nothing is allocated per window: jobs are `Arc` clones, replies go through each stream's
//! own one-slot channel, and the thread's scratch space is sized once.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::clock;
use crate::core::segmenter::{SegmentEvent, Segmenter, SegmenterConfig, WINDOW};
use crate::vad::frontend::{AudioFrame, FrontEnd, InputStats};
use crate::vad::model::{InferenceFailed, StreamState};
use crate::vad::{Vad, VadError, metrics};

/// Windows that may wait for the thread before senders are held back.
const QUEUE: usize = 1024;

type Reply = Result<f32, InferenceFailed>;

/// A stream's place at the batching thread.
struct Slot {
    state: Mutex<StreamState>,
    reply: mpsc::Sender<Reply>,
}

/// Handle to the batching thread; clone it freely. The thread stops when every handle and
/// stream is dropped.
#[derive(Clone, Debug)]
pub struct VadService {
    jobs: mpsc::Sender<Arc<Slot>>,
    thread: Arc<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

impl VadService {
    /// Starts the batching thread (`vad-batch`) on the shared model.
    pub fn start(vad: Vad, max_batch: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let max_batch = max_batch.max(1);
        let thread =
            std::thread::Builder::new().name("vad-batch".into()).spawn(move || run(vad, rx, max_batch))?;
        Ok(Self { jobs: tx, thread: Arc::new(Some(thread)) })
    }

    /// A new stream scored through this service.
    pub fn stream(&self, segmenter: SegmenterConfig) -> BatchedStream {
        let (reply, replies) = mpsc::channel(1);
        BatchedStream {
            jobs: self.jobs.clone(),
            slot: Arc::new(Slot { state: Mutex::new(StreamState::default()), reply }),
            replies,
            front: FrontEnd::new(),
            segmenter: Segmenter::new(segmenter),
            in_flight: None,
            repaired: 0,
        }
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed() && self.thread.as_ref().as_ref().is_some_and(|t| !t.is_finished())
    }
}

fn run(vad: Vad, mut rx: mpsc::Receiver<Arc<Slot>>, max_batch: usize) {
    let mut jobs: Vec<Arc<Slot>> = Vec::with_capacity(max_batch);
    let mut states: Vec<StreamState> = vec![StreamState::default(); max_batch];
    let mut probs = vec![0.0f32; max_batch];
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let n = jobs.len();
        for (job, state) in jobs.iter().zip(&mut states) {
            state.clone_from(&job.state.lock().unwrap_or_else(|e| e.into_inner()));
        }
        let started = clock::now();
        let result = vad.model().infer(&mut states[..n], &mut probs[..n]);
        metrics::record_run(clock::now().saturating_duration_since(started), n);
        for (i, job) in jobs.drain(..).enumerate() {
            let reply = match &result {
                Ok(()) => {
                    job.state.lock().unwrap_or_else(|e| e.into_inner()).clone_from(&states[i]);
                    Ok(probs[i])
                }
                Err(e) => Err(e.clone()),
            };
            // A stream dropped meanwhile no longer listens; nothing to do for it.
            let _ = job.reply.try_send(reply);
        }
        if result.is_err() {
            metrics::metrics().inference_errors.inc();
        }
    }
}

/// One participant's audio through the batching service: frames in, [`SegmentEvent`]s out.
#[derive(Debug)]
pub struct BatchedStream {
    jobs: mpsc::Sender<Arc<Slot>>,
    slot: Arc<Slot>,
    replies: mpsc::Receiver<Reply>,
    front: FrontEnd,
    segmenter: Segmenter,
    /// The window sent and not yet answered (kept if a `push` was cancelled while waiting).
    in_flight: Option<[f32; WINDOW]>,
    repaired: u64,
}

impl BatchedStream {
    /// Consumes one frame, scoring its windows through the service; events go to `out`.
    ///
    /// Cancel-safe for the window in flight: if the future is dropped while waiting, that
    /// window's result is taken on the next call. The rest of a cancelled frame is lost.
    pub async fn push(&mut self, frame: AudioFrame<'_>, out: &mut Vec<SegmentEvent>) -> Result<(), VadError> {
        self.settle(out).await?;
        let mut feed = match self.front.feed(frame) {
            Ok(feed) => feed,
            Err(e) => {
                metrics::metrics().refused_frames.inc();
                return Err(e.into());
            }
        };
        while let Some(window) = feed.next_window() {
            self.slot.state.lock().unwrap_or_else(|e| e.into_inner()).set_window(&window);
            self.jobs.send(Arc::clone(&self.slot)).await.map_err(|_| VadError::ServiceStopped)?;
            self.in_flight = Some(window);
            Self::answer(&mut self.replies, &mut self.in_flight, &mut self.segmenter, out).await?;
        }
        let s = self.front.stats();
        metrics::metrics().repaired_samples.inc_by(s.non_finite + s.clipped - self.repaired);
        self.repaired = s.non_finite + s.clipped;
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
        Self::answer(&mut self.replies, &mut self.in_flight, &mut self.segmenter, out).await
    }

    async fn answer(
        replies: &mut mpsc::Receiver<Reply>,
        in_flight: &mut Option<[f32; WINDOW]>,
        segmenter: &mut Segmenter,
        out: &mut Vec<SegmentEvent>,
    ) -> Result<(), VadError> {
        let Some(window) = in_flight.as_ref() else { return Ok(()) };
        let p = replies.recv().await.ok_or(VadError::ServiceStopped)?;
        let window = *window;
        *in_flight = None;
        segmenter.push_window(&window, p?, out);
        Ok(())
    }
}
