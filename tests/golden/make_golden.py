#!/usr/bin/env python3
"""Computes the Silero reference output for the VAD fixtures: tests/golden/silero_reference.json.

What runs here is the reference, as the `silero-vad` package (6.2.3) does it:
- per-window speech probabilities: the package's `OnnxWrapper.__call__` on its own
  `silero_vad.onnx` (sha256 checked) with onnxruntime, 1 intra-op and 1 inter-op thread, CPU;
  that method uses torch only to concatenate the 64-sample context and to hold the state, so
  those two lines are done with numpy below, operation for operation;
- segments: the package's own `get_speech_timestamps_from_probs`, loaded from the installed
  package source (the module imports torch at the top, which this pure-Python function does
  not need, and the PyPI torch wheel with its CUDA dependencies is several gigabytes).

Run it in a scratch virtualenv (not the project's):
    python3 -m venv /tmp/silero-ref
    /tmp/silero-ref/bin/pip install "numpy<3" "onnxruntime==1.31.1"
    /tmp/silero-ref/bin/pip install --no-deps "silero-vad==6.2.3"
    /tmp/silero-ref/bin/python tests/golden/make_golden.py
"""

import ast
import hashlib
import importlib.util
import json
import math
import pathlib
import wave

import numpy as np
import onnxruntime

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "tests" / "golden" / "silero_reference.json"
MODEL_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
SR = 16000
WINDOW = 512
CONTEXT = 64
# The thresholds of DESIGN.md; padding 0 so the raw boundaries are compared.
SEGMENTS = dict(threshold=0.5, neg_threshold=0.35, min_speech_duration_ms=50,
                min_silence_duration_ms=550, speech_pad_ms=0)
MAX_CUT_SECS = 3.0


def package_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("silero_vad")
    return pathlib.Path(spec.origin).parent


def reference_segmenter():
    """The package's get_speech_timestamps_from_probs, without importing torch."""
    source = (package_dir() / "utils_vad.py").read_text()
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
              and n.name == "get_speech_timestamps_from_probs")
    namespace = {"List": list, "make_visualization": None}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "utils_vad.py", "exec"), namespace)
    return namespace["get_speech_timestamps_from_probs"]


def session(model: pathlib.Path) -> onnxruntime.InferenceSession:
    # As OnnxWrapper.__init__ with force_onnx_cpu=True (what load_silero_vad(onnx=True) does).
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"], sess_options=opts)


def probabilities(sess, audio: np.ndarray) -> list:
    # OnnxWrapper.reset_states + __call__ per window, as get_speech_timestamps drives it.
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, CONTEXT), dtype=np.float32)
    sr = np.array(SR, dtype=np.int64)
    probs = []
    for start in range(0, len(audio), WINDOW):
        chunk = audio[start:start + WINDOW]
        if len(chunk) < WINDOW:  # never with the fixtures: they are whole windows
            chunk = np.pad(chunk, (0, WINDOW - len(chunk)))
        x = np.concatenate([context, chunk[None, :]], axis=1)
        out, state = sess.run(None, {"input": x, "state": state, "sr": sr})
        context = x[..., -CONTEXT:]
        probs.append(float(out.item()))
    return probs


def read_wav(path: pathlib.Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SR, 1, 2), path
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    # torchaudio's normalisation of 16-bit PCM, which silero's read_audio uses.
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def main() -> None:
    model = package_dir() / "data" / "silero_vad.onnx"
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert digest == MODEL_SHA256, f"{model} has sha256 {digest}"
    sess = session(model)
    segment = reference_segmenter()
    fixtures = {}
    for wav in sorted(FIXTURES.glob("*.wav")):
        audio = read_wav(wav)
        probs = probabilities(sess, audio)
        common = dict(SEGMENTS, sampling_rate=SR, audio_length_samples=len(audio))
        fixtures[wav.name] = {
            "samples": len(audio),
            "probabilities": [round(p, 7) for p in probs],
            "segments": segment(probs, max_speech_duration_s=math.inf, **common),
            "segments_max_cut": segment(probs, max_speech_duration_s=MAX_CUT_SECS, **common),
        }
    from importlib.metadata import version
    doc = {
        "generator": "tests/golden/make_golden.py",
        "silero_vad": version("silero-vad"),
        "onnxruntime": onnxruntime.__version__,
        "model_sha256": MODEL_SHA256,
        "sample_rate": SR,
        "window": WINDOW,
        "segment_settings": dict(SEGMENTS, max_cut_secs=MAX_CUT_SECS),
        "fixtures": fixtures,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    for name, f in fixtures.items():
        print(f"{name}: {len(f['probabilities'])} windows, segments {f['segments']}")


if __name__ == "__main__":
    main()
