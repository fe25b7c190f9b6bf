#!/usr/bin/env python3
"""Times Silero VAD in Python the way livekit-plugins-silero runs it, for the VAD benchmark.

Session options as the plugin sets them: onnxruntime CPU provider, 1 intra-op and 1 inter-op
thread, sequential execution, spinning off, full graph optimisation. Per window, as the
plugin's OnnxModel.__call__: concatenate the 64-sample context and the 512-sample window,
run with the state and the sample rate, keep the new state and the context.

    python silero_python.py MODEL WAV [--repeat N]
prints one JSON line: {"us_per_window", "cpu_us_per_window", "windows", "onnxruntime"}: wall-clock
and CPU time (this thread; ONNX Runtime runs in it with one thread), best of N passes.
The agent's benchmark (agent/benches/vad.rs) runs this on the same fixture in the same run.
"""

import argparse
import json
import time
import wave

import numpy as np
import onnxruntime


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
    def __init__(self, sess: onnxruntime.InferenceSession) -> None:
        self._sess = sess
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, 64), dtype=np.float32)
        self._sr = np.array(16000, dtype=np.int64)

    def __call__(self, x: np.ndarray) -> float:
        x = np.concatenate([self._context, x[None, :]], axis=1)
        out, self._state = self._sess.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = x[..., -64:]
        return out.item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("wav")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with wave.open(args.wav) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    audio = pcm.astype(np.float32) / 32768.0
    windows = [audio[i:i + 512] for i in range(0, len(audio) - 511, 512)]
    model = OnnxModel(session(args.model))
    for w in windows[:50]:  # warm-up
        model(w)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(args.repeat):
        start, cpu = time.perf_counter(), time.thread_time()
        for w in windows:
            model(w)
        best = min(best, (time.perf_counter() - start) / len(windows))
        best_cpu = min(best_cpu, (time.thread_time() - cpu) / len(windows))
    print(json.dumps({"us_per_window": best * 1e6, "cpu_us_per_window": best_cpu * 1e6,
                      "windows": len(windows), "onnxruntime": onnxruntime.__version__}))


if __name__ == "__main__":
    main()
