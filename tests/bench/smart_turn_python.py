#!/usr/bin/env python3
"""Times one Smart Turn prediction in Python as the pipecat-ai wheel does it, for the Smart
Turn benchmark (agent/benches/smart_turn.rs runs this on the same audio in the same run).

The features are the wheel's own numpy code (`_whisper_features.py`, read out of the wheel
that scripts/setup downloaded into the cache); the session has the options of
`LocalSmartTurnAnalyzerV3` (1 intra-op thread, sequential, full optimisation); the model is
the wheel's. One prediction = the last 8 s, features, one run.

    python smart_turn_python.py WAV [--repeat N]
prints one JSON line: {"ms_per_call", "cpu_ms_per_call", "probability", "onnxruntime"}:
wall-clock and CPU time (this process), best of N passes, and the probability it gave.
"""

import argparse
import glob
import json
import os
import time
import types
import wave
import zipfile

import numpy as np
import onnxruntime

PKG = "pipecat/audio/turn/smart_turn/"


def wheel() -> zipfile.ZipFile:
    cache = os.environ.get("VOICE_AGENT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "voice-agent")
    found = sorted(glob.glob(os.path.join(cache, "wheels", "pipecat_ai-1.14.0-*.whl")))
    if not found:
        raise SystemExit(f"no pipecat-ai 1.14.0 wheel in {cache}/wheels: run scripts/setup")
    return zipfile.ZipFile(found[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wav")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    w = wheel()
    features = types.ModuleType("_whisper_features")
    exec(compile(w.read(PKG + "_whisper_features.py"), "_whisper_features.py", "exec"), features.__dict__)
    so = onnxruntime.SessionOptions()
    so.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = 1
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = onnxruntime.InferenceSession(w.read(PKG + "data/smart-turn-v3.2-cpu.onnx"), sess_options=so)
    with wave.open(args.wav) as f:
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")

    def predict() -> float:
        audio = pcm.astype(np.float32) / 32768.0
        audio = audio[-128000:]
        audio = np.pad(audio, (128000 - len(audio), 0))
        log_mel = features.compute_whisper_log_mel_features(audio, do_normalize=True)
        return sess.run(None, {"input_features": np.expand_dims(log_mel, axis=0)})[0][0].item()

    probability = predict()
    best_wall = best_cpu = float("inf")
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        predict()
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    print(json.dumps({"ms_per_call": best_wall * 1e3, "cpu_ms_per_call": best_cpu * 1e3,
                      "probability": probability, "onnxruntime": onnxruntime.__version__}))


if __name__ == "__main__":
    main()
