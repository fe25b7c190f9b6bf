//! The Rust paths the VAD benchmark times: the model called directly (one stream, batches),
//! a stream with direct calls (16 and 48 kHz input), the front end alone, and streams
//! through the batching service.

use std::sync::Arc;

use stats_alloc::Region;
use tokio::runtime::Runtime;
use voice_agent::core::segmenter::{SegmentEvent, SegmenterConfig, WINDOW};
use voice_agent::vad::frontend::FrontEnd;
use voice_agent::vad::{BatchedStream, InputFrame, Samples, StreamState, Vad, VadService, VadStream};

use crate::GLOBAL;
use crate::measure::{Cpu, Us, allocs_per, best_us};

/// Batched steps per pass (streams read the fixture at different places, 7 windows apart).
const STEPS: usize = 120;
const STRIDE: usize = 7;
/// 20 ms frames, as a room delivers them.
const FRAME_16K: usize = 320;
const FRAME_48K: usize = 960;

/// One measured path.
pub struct Row {
    pub what: String,
    pub us: Us,
    pub allocs: f64,
}

/// One pass of one stream over `ws`, one model run per window.
pub fn model_pass(vad: &Vad, ws: &[[f32; WINDOW]], state: &mut StreamState) {
    let mut model = vad.model();
    for w in ws {
        state.set_window(w);
        std::hint::black_box(model.infer_one(state).expect("infer"));
    }
}

pub fn single_stream(vad: &Vad, ws: &[[f32; WINDOW]]) -> Row {
    let mut state = StreamState::default();
    let mut run = || model_pass(vad, ws, &mut state);
    let us = best_us(ws.len(), Cpu::Thread, &mut run);
    let allocs = allocs_per(ws.len(), &mut run);
    Row { what: "model, one stream (µs/window)".into(), us, allocs }
}

pub fn batched(vad: &Vad, ws: &[[f32; WINDOW]], n: usize) -> Row {
    let mut states = vec![StreamState::default(); n];
    let mut probs = vec![0.0f32; n];
    let steps = ws.len().min(STEPS);
    let mut run = || {
        let mut model = vad.model();
        for step in 0..steps {
            for (i, s) in states.iter_mut().enumerate() {
                s.set_window(&ws[(step + i * STRIDE) % ws.len()]);
            }
            model.infer(&mut states, &mut probs).expect("infer");
        }
    };
    let us = best_us(steps * n, Cpu::Thread, &mut run);
    let allocs = allocs_per(steps * n, &mut run);
    Row { what: format!("model, batch {n} (µs/window/stream)"), us, allocs }
}

/// Pushes `pcm` (mono, `rate` Hz) in 20 ms frames through `stream`.
pub fn stream_pass(stream: &mut VadStream, pcm: &[i16], rate: u32, events: &mut Vec<SegmentEvent>) {
    let frame = if rate == 48_000 { FRAME_48K } else { FRAME_16K };
    for c in pcm.chunks(frame) {
        let frame = InputFrame { samples: Samples::I16(c), sample_rate: rate, channels: 1 };
        stream.push(frame, events).expect("push");
        events.clear();
    }
}

/// A stream with direct model calls fed `pcm` at `rate`; `quiet` (the same rate, no speech)
/// counts allocations per window: an utterance's PCM buffer is one allocation per
/// utterance, reported apart.
pub fn direct_stream(vad: &Vad, pcm: &[i16], quiet: &[i16], rate: u32) -> Row {
    let per_window = rate as usize / 16_000 * WINDOW;
    let mut events: Vec<SegmentEvent> = Vec::with_capacity(64);
    let mut stream = vad.stream(SegmenterConfig::default());
    let us =
        best_us(pcm.len() / per_window, Cpu::Thread, || stream_pass(&mut stream, pcm, rate, &mut events));
    let allocs = allocs_per(quiet.len() / per_window, || stream_pass(&mut stream, quiet, rate, &mut events));
    let what = if rate == 16_000 {
        "stream 16 kHz → model → segmenter, direct calls (µs/window)".to_string()
    } else {
        format!("stream {} kHz → resample → model → segmenter (µs/window)", rate / 1000)
    };
    Row { what, us, allocs }
}

pub fn front_end_48k(pcm48: &[i16]) -> Row {
    let frames = pcm48.len() / FRAME_48K;
    let mut front = FrontEnd::new();
    let mut run = || {
        for c in pcm48.chunks_exact(FRAME_48K) {
            let frame = InputFrame { samples: Samples::I16(c), sample_rate: 48_000, channels: 1 };
            let mut feed = front.feed(frame).expect("feed");
            while let Some(w) = feed.next_window() {
                std::hint::black_box(w);
            }
        }
    };
    let us = best_us(frames, Cpu::Thread, &mut run);
    let allocs = allocs_per(frames, &mut run);
    Row { what: "front end: 20 ms 48 kHz frame → 16 kHz windows (µs/frame)".into(), us, allocs }
}

/// Streams through a batching service, each in its own task on a one-worker runtime.
pub struct ServiceRun {
    rt: Runtime,
    live: Vec<BatchedStream>,
    /// Kept so the service outlives the passes.
    _service: VadService,
}

impl ServiceRun {
    pub fn new(vad: &Vad, streams: usize) -> Self {
        let service = VadService::start(vad.clone(), 64).expect("service");
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().expect("runtime");
        let live = (0..streams).map(|_| service.stream(SegmenterConfig::default())).collect();
        Self { rt, live, _service: service }
    }

    /// Every stream pushes `pcm` (16 kHz) in 20 ms frames. Streams go into tasks and come
    /// back, so later passes reuse them (and their buffers).
    pub fn pass(&mut self, pcm: &Arc<[i16]>) {
        let live = std::mem::take(&mut self.live);
        self.live = self.rt.block_on(async {
            let tasks: Vec<_> = live
                .into_iter()
                .map(|mut stream| {
                    let pcm = Arc::clone(pcm);
                    tokio::spawn(async move {
                        let mut events = Vec::with_capacity(64);
                        for c in pcm.chunks(FRAME_16K) {
                            let frame =
                                InputFrame { samples: Samples::I16(c), sample_rate: 16_000, channels: 1 };
                            stream.push(frame, &mut events).await.expect("push");
                            events.clear();
                        }
                        stream
                    })
                })
                .collect();
            let mut back = Vec::with_capacity(tasks.len());
            for t in tasks {
                back.push(t.await.expect("task"));
            }
            back
        });
    }
}

pub fn service(vad: &Vad, pcm: &[i16], quiet: &[i16], streams: usize) -> Row {
    let mut run = ServiceRun::new(vad, streams);
    let full: Arc<[i16]> = pcm.into();
    let units = full.len() / WINDOW * streams;
    let us = best_us(units, Cpu::Process, || run.pass(&full));
    // Spawning the tasks allocates per pass; the difference between a full and a half pass
    // is what the windows themselves cost. Counted on the fixture without speech: utterance
    // buffers are per utterance.
    let mut count = |p: &Arc<[i16]>| {
        run.pass(p);
        let region = Region::new(GLOBAL);
        run.pass(p);
        region.change().allocations as f64
    };
    let quiet_full: Arc<[i16]> = quiet.into();
    let quiet_half: Arc<[i16]> = quiet[..quiet.len() / 2].into();
    let (a_full, a_half) = (count(&quiet_full), count(&quiet_half));
    let per = (quiet_full.len() / WINDOW - quiet_half.len() / WINDOW) * streams;
    Row {
        what: format!("service, {streams} async streams, batching thread (µs/window/stream)"),
        us,
        allocs: (a_full - a_half).max(0.0) / per as f64,
    }
}
