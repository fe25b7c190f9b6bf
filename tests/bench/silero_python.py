#!/usr/bin/env python3
"""Times Silero VAD in Python the way livekit-plugins-silero runs it, for the VAD benchmark.

Session options as the plugin sets them: onnxruntime CPU provider, 1 intra-op and 1 inter-op
thread, sequential execution, spinning off, full graph optimisation. Per window, as the
plugin's OnnxModel.__call__: concatenate the 64-sample context and the 512-sample window,
run with the state and the sample rate, keep the new state and the context.

The plugin runs one session call per stream and window. So that batched Rust runs are
compared with batched Python runs, `--batch` also times the same call with a batch
dimension: B streams' contexts and windows in one (B, 576) input, their states in one
(2, B, 128) state, one run per step, each stream fed the windows the Rust benchmark feeds it.

    python silero_python.py MODEL WAV [--repeat N] [--batch 8,32,64]
prints one JSON line: {"us_per_window", "cpu_us_per_window", "windows", "onnxruntime",
"batches": {"B": {"us_per_window", "cpu_us_per_window"}}}: wall-clock and CPU time (this
thread; ONNX Runtime runs in it with one thread) per window (per stream), best of N passes.
The agent's benchmark (agent/benches/vad/) runs this on the same fixture in the same run.
"""

import argparse
import json
import time
import wave

import numpy as np
import onnxruntime

# Steps per batched pass and the stride between streams' positions in the fixture, as in
# agent/benches/vad/.
STEPS = 120
STRIDE = 7


def session(model: str) -> onnxruntime.InferenceSession:
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"], sess_options=opts)


class OnnxModel:
    """The plugin's model call; with `batch` > 1, the same call for `batch` streams at once."""

    def __init__(self, sess: onnxruntime.InferenceSession, batch: int = 1) -> None:
        self._sess = sess
        self._state = np.zeros((2, batch, 128), dtype=np.float32)
        self._context = np.zeros((batch, 64), dtype=np.float32)
        self._sr = np.array(16000, dtype=np.int64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x: (512,) for one stream, or (batch, 512)."""
        x = np.concatenate([self._context, x.reshape(self._context.shape[0], -1)], axis=1)
        out, self._state = self._sess.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = x[..., -64:]
        return out


def best_of(repeat: int, units: int, run) -> tuple[float, float]:
    """(wall, CPU) µs per unit, each the best of `repeat` passes of `run` (after a warm-up)."""
    run()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.thread_time()
        run()
        best = min(best, (time.perf_counter() - start) / units)
        best_cpu = min(best_cpu, (time.thread_time() - cpu) / units)
    return best * 1e6, best_cpu * 1e6


def single(sess: onnxruntime.InferenceSession, windows: np.ndarray, repeat: int) -> tuple[float, float]:
    model = OnnxModel(sess)

    def run() -> None:
        for w in windows:
            model(w).item()

    return best_of(repeat, len(windows), run)


def batched(sess: onnxruntime.InferenceSession, windows: np.ndarray, n: int, repeat: int) -> tuple[float, float]:
    model = OnnxModel(sess, n)
    steps = min(len(windows), STEPS)
    rows = (np.arange(steps)[:, None] + np.arange(n)[None, :] * STRIDE) % len(windows)

    def run() -> None:
        for step in range(steps):
            model(windows[rows[step]])

    return best_of(repeat, steps * n, run)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("wav")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", default="", help="comma-separated batch sizes to time as well")
    args = ap.parse_args()
    with wave.open(args.wav) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    audio = pcm.astype(np.float32) / 32768.0
    windows = audio[: len(audio) // 512 * 512].reshape(-1, 512)
    sess = session(args.model)
    wall, cpu = single(sess, windows, args.repeat)
    batches = {}
    for n in (int(b) for b in args.batch.split(",") if b):
        b_wall, b_cpu = batched(sess, windows, n, args.repeat)
        batches[str(n)] = {"us_per_window": b_wall, "cpu_us_per_window": b_cpu}
    print(json.dumps({"us_per_window": wall, "cpu_us_per_window": cpu, "windows": len(windows),
                      "onnxruntime": onnxruntime.__version__, "batches": batches}))


if __name__ == "__main__":
    main()
