# Sourced by the other scripts: where setup put things, as the agent's variables expect.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$ROOT/models/libonnxruntime.so.1.31.1}"
export VAD_MODEL_PATH="${VAD_MODEL_PATH:-$ROOT/models/silero_vad.onnx}"
export TURN_MODEL_PATH="${TURN_MODEL_PATH:-$ROOT/models/smart-turn-v3.2-cpu.onnx}"
export LIVEKIT_SERVER_BIN="${LIVEKIT_SERVER_BIN:-$ROOT/.tools/bin/livekit-server}"
export VOICE_AGENT_PYTHON="${VOICE_AGENT_PYTHON:-$ROOT/.tools/venv/bin/python}"
# The opt-in local stack (scripts/setup --local; started by scripts/local-stack).
export LOCAL_LLAMA_SERVER="${LOCAL_LLAMA_SERVER:-$ROOT/.tools/local/llama-server}"
# The models are chosen by scripts/local-stack from LOCAL_PROFILE (LOCAL_LLM_MODEL and
# LOCAL_STT_MODEL, when set, override them).
export LOCAL_MODELS="${LOCAL_MODELS:-$ROOT/.tools/local/models}"
export LOCAL_PYTHON="${LOCAL_PYTHON:-$ROOT/.tools/local-venv/bin/python}"
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
