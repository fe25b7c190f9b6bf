# Sourced by the other scripts: where setup put things, as the agent's variables expect.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$ROOT/models/libonnxruntime.so.1.31.1}"
export VAD_MODEL_PATH="${VAD_MODEL_PATH:-$ROOT/models/silero_vad.onnx}"
export LIVEKIT_SERVER_BIN="${LIVEKIT_SERVER_BIN:-$ROOT/.tools/bin/livekit-server}"
export VOICE_AGENT_PYTHON="${VOICE_AGENT_PYTHON:-$ROOT/.tools/venv/bin/python}"
