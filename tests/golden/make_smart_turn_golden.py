#!/usr/bin/env python3
"""Computes the Smart Turn reference output for tests/fixtures/turn/*.wav:
tests/golden/smart_turn_reference.json.

What runs here is the reference as the PyPI `pipecat-ai` 1.14.0 wheel ships it, read straight
out of the wheel (installing pipecat-ai would pull torch-free but heavy dependencies, and its
analyzer class imports soxr and loguru; none of that is in the computation):
- `pipecat/audio/turn/smart_turn/_whisper_features.py`: the numpy Whisper log-mel features,
  loaded as a module from the wheel;
- `LocalSmartTurnAnalyzerV3._predict_endpoint`: its nested `truncate_audio_to_last_n_seconds`
  taken from the wheel's source with `ast` and run as is; the rest of the method (features,
  batch axis, `session.run`, `outputs[0][0]`) is three lines, done below in the same order;
- the int16 → float32 conversion of `BaseSmartTurn._process_speech_segment` (÷ 32768);
- the model `smart-turn-v3.2-cpu.onnx` from the wheel (sha256 checked), with the session
  options of `LocalSmartTurnAnalyzerV3.__init__` (cpu_count=1).

The model is int8-quantized (QuantizeLinear/DequantizeLinear): a feature that differs in the
last float32 bit can move an activation across a quantization step, and on some inputs the
probability then jumps (seen: 0.36 → 0.53 for features equal to 8e-6; the reference does the
same with 1e-6 of noise added). The fixtures are inputs where it does not, so the probabilities
can be compared tightly; the features are compared everywhere.

The features are 80 × 800 floats per fixture; every 37th, rounded to 7 decimals (37 is prime to 800, so the sample
walks every mel bin and frame) is stored with each mel bin's sum over all frames.

Run it with numpy and onnxruntime (the project venv has both):
    python3 -m pip download --no-deps -d /tmp/pipecat "pipecat-ai==1.14.0"
    .tools/venv/bin/python tests/golden/make_smart_turn_golden.py /tmp/pipecat/pipecat_ai-1.14.0-py3-none-any.whl
"""

import ast
import hashlib
import pathlib
import sys
import types
import wave
import zipfile

import numpy as np
import onnxruntime

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "turn"
OUT = ROOT / "tests" / "golden" / "smart_turn_reference.json"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
PKG = "pipecat/audio/turn/smart_turn/"
STRIDE = 37


def load_features_module(wheel: zipfile.ZipFile) -> types.ModuleType:
    module = types.ModuleType("_whisper_features")
    exec(compile(wheel.read(PKG + "_whisper_features.py"), "_whisper_features.py", "exec"), module.__dict__)
    return module


def truncate_function(wheel: zipfile.ZipFile):
    """`truncate_audio_to_last_n_seconds`, nested in `_predict_endpoint`, as the wheel has it."""
    tree = ast.parse(wheel.read(PKG + "local_smart_turn_v3.py"))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
              and n.name == "truncate_audio_to_last_n_seconds")
    namespace = {"np": np, "_MODEL_SAMPLE_RATE": 16000}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "local_smart_turn_v3.py", "exec"), namespace)
    return namespace["truncate_audio_to_last_n_seconds"]


def session(model: bytes) -> onnxruntime.InferenceSession:
    so = onnxruntime.SessionOptions()
    so.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = 1
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(model, sess_options=so)


def read_wav(path: pathlib.Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2), path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def main() -> None:
    import json
    wheel_path = sys.argv[1]
    wheel = zipfile.ZipFile(wheel_path)
    model = wheel.read(PKG + "data/smart-turn-v3.2-cpu.onnx")
    digest = hashlib.sha256(model).hexdigest()
    assert digest == MODEL_SHA256, f"the wheel's model has sha256 {digest}"
    features_module = load_features_module(wheel)
    truncate = truncate_function(wheel)
    sess = session(model)
    inputs = {f.stem: read_wav(f) for f in sorted(FIXTURES.glob("*.wav"))}
    inputs["silence_1s"] = np.zeros(16000, dtype=np.int16)
    fixtures = {}
    for name, pcm in inputs.items():
        audio = pcm.astype(np.float32) / 32768.0
        audio = truncate(audio, n_seconds=8)
        log_mel = features_module.compute_whisper_log_mel_features(audio, do_normalize=True)
        outputs = sess.run(None, {"input_features": np.expand_dims(log_mel, axis=0)})
        probability = outputs[0][0].item()
        flat = log_mel.reshape(-1)
        fixtures[name] = {
            "samples": int(len(pcm)),
            "probability": probability,
            "features_strided": [round(float(v), 7) for v in flat[::STRIDE]],
            "mel_sums": [round(float(v), 5) for v in log_mel.astype(np.float64).sum(axis=1)],
        }
        print(f"{name}: {len(pcm) / 16000:.2f} s, probability {probability:.4f}")
    doc = {
        "generator": "tests/golden/make_smart_turn_golden.py",
        "wheel": pathlib.Path(wheel_path).name,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "model_sha256": MODEL_SHA256,
        "feature_shape": list(log_mel.shape),
        "feature_stride": STRIDE,
        "fixtures": fixtures,
    }
    # One line per fixture keeps the file small and its diffs readable.
    head = {k: v for k, v in doc.items() if k != "fixtures"}
    lines = [json.dumps(head)[:-1] + ', "fixtures": {']
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in fixtures.items()]
    lines[-1] = lines[-1].rstrip(",")
    OUT.write_text("\n".join(lines) + "\n}}\n")
    json.loads(OUT.read_text())
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
