"""Speech to text: faster-whisper behind an OpenAI-compatible `/v1/audio/transcriptions`.

    python local/stt_server.py --model DIR --port 8091

The request is the OpenAI multipart form: `file` (WAV is read directly; other containers go
through PyAV), `model` or `model_name` (any name: one model is loaded), `language`,
`response_format` (`json`, `text` or `verbose_json`). The model loads and runs once before the
port opens, so the first real request is warm. Requests run one at a time: on a small machine
two concurrent decodes are slower than two sequential ones.
"""

import argparse
import io
import os
import threading
import time
import wave

# Never reach for a model hub: the weights are a local folder, nothing is fetched at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from common import HttpError, Handler, health_route, serve  # noqa: E402

RATE = 16_000
MAX_UPLOAD = 25 << 20  # OpenAI's own limit


def parse_multipart(content_type, body):
    """Form fields of a multipart/form-data body: name -> (filename or None, bytes)."""
    boundary = None
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not content_type.lower().startswith("multipart/form-data") or not boundary:
        raise HttpError(400, "expected multipart/form-data with a boundary")
    fields = {}
    delimiter = b"--" + boundary.encode()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, value = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise HttpError(400, "malformed multipart part")
        name = filename = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                for item in line.split(";")[1:]:
                    k, _, v = item.strip().partition("=")
                    if k == "name":
                        name = v.strip('"')
                    elif k == "filename":
                        filename = v.strip('"')
        if name is not None:
            fields[name] = (filename, value[:-2] if value.endswith(b"\r\n") else value)
    return fields


def decode_audio(data):
    """Mono float32 at 16 kHz. 16-bit PCM WAV is read here (fast); anything else through PyAV."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            if w.getsampwidth() != 2:
                raise wave.Error("not 16-bit")
            channels, rate = w.getnchannels(), w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    except (wave.Error, EOFError):
        from faster_whisper.audio import decode_audio as av_decode
        try:
            return av_decode(io.BytesIO(data), sampling_rate=RATE)
        except Exception as e:
            raise HttpError(400, f"audio could not be decoded: {e}") from None
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1)
    if rate != RATE and len(pcm):
        n = int(round(len(pcm) * RATE / rate))
        pcm = np.interp(np.arange(n) * (rate / RATE), np.arange(len(pcm)), pcm).astype(np.float32)
    return pcm


# Silence the short window keeps after the speech at least (seconds): Whisper learned on
# windows that end in silence or padding, never on speech cut at the window's edge.
WINDOW_TAIL = 2.0
# Tokens a short window may decode per second of audio (speech is ~3 a second), plus a few:
# a bound on the repetition loops a decoder can fall into, never on real speech.
TOKENS_PER_SECOND, EXTRA_TOKENS = 6, 10
# faster-whisper's defaults (no_speech_threshold, log_prob_threshold): a window the model
# thinks holds no speech, decoded with low confidence, is silence.
NO_SPEECH_PROB, NO_SPEECH_LOGPROB = 0.6, -1.0


class Engine:
    """One loaded Whisper model; `transcribe` is serialized.

    Whisper's encoder always reads a 30 s window (speech, then padding), and on a CPU that
    window is most of a short utterance's time: attention grows with its square. With
    `window` seconds (10 by default) an utterance that fits in it with `WINDOW_TAIL` to spare
    is encoded in a window that long instead (one decode, no timestamps); longer audio takes
    faster-whisper's usual 30 s path. Whisper tiny.en on the quiz's 49 espeak-ng questions:
    the 10 s window is ~5x faster than 30 s, and its word error rate was lower (14.3 against
    19.5 %); 8 s fell apart (22.5 %, 6 s 40.7 %: repeated phrases).
    """

    def __init__(self, model_dir, threads, beam_size, default_language, window):
        from faster_whisper import WhisperModel
        self.model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
        self.beam_size = beam_size
        self.default_language = default_language
        self.window = window
        self.lock = threading.Lock()

    def transcribe(self, audio, language):
        language = language or self.default_language
        with self.lock:
            if self.window and len(audio) / RATE + WINDOW_TAIL <= self.window:
                return self.short(audio, language)
            segments, info = self.model.transcribe(
                audio, language=language, beam_size=self.beam_size,
                condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
                temperature=0.0)
            segments = list(segments)
        text = "".join(s.text for s in segments).strip()
        return text, segments, info

    def short(self, audio, language):
        """One decode of `audio` in a window of `self.window` seconds (caller holds the lock)."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import Segment, TranscriptionInfo

        model = self.model
        multilingual = model.model.is_multilingual
        tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe",
                              language=language if multilingual else "en")
        frames = int(self.window * RATE) // model.feature_extractor.hop_length
        features = model.feature_extractor(audio)[:, :frames]
        features = np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
        prompt = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
        duration = len(audio) / RATE
        result = model.model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32)),
            [prompt], beam_size=self.beam_size, suppress_blank=True, suppress_tokens=[-1],
            max_length=len(prompt) + int(duration * TOKENS_PER_SECOND) + EXTRA_TOKENS,
            return_scores=True, return_no_speech_prob=True)[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        # faster-whisper's rule for a window with no speech in it (a cough, noise): no text.
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        silent = result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < NO_SPEECH_LOGPROB
        text = "" if silent else tokenizer.decode(tokens).strip()
        segment = Segment(id=1, seek=0, start=0.0, end=duration, text=" " + text, tokens=tokens,
                          avg_logprob=avg_logprob, compression_ratio=0.0,
                          no_speech_prob=result.no_speech_prob, words=None, temperature=0.0)
        info = TranscriptionInfo(language=tokenizer.language_code, language_probability=1.0,
                                 duration=duration, duration_after_vad=duration,
                                 all_language_probs=None, transcription_options=None,
                                 vad_options=None)
        return text, [segment], info


def make_handler(engine, model_name):
    def transcriptions(h):
        fields = parse_multipart(h.headers.get("Content-Type", ""), h.read_body())
        if "file" not in fields:
            raise HttpError(400, "the form has no 'file' field")
        field = lambda k: fields.get(k, (None, b""))[1].decode("utf-8", "replace").strip()  # noqa: E731
        fmt = field("response_format") or "json"
        if fmt not in ("json", "text", "verbose_json"):
            raise HttpError(400, f"response_format {fmt!r} is not supported (json, text, verbose_json)")
        audio = decode_audio(fields["file"][1])
        started = time.perf_counter()
        text, segments, info = engine.transcribe(audio, field("language") or None)
        if fmt == "text":
            h.send_bytes(200, "text/plain; charset=utf-8", text.encode())
        elif fmt == "json":
            h.send_json(200, {"text": text})
        else:
            h.send_json(200, {
                "task": "transcribe", "language": info.language, "duration": len(audio) / RATE,
                "text": text, "processing_ms": round((time.perf_counter() - started) * 1e3),
                "segments": [{"id": i, "start": s.start, "end": s.end, "text": s.text}
                             for i, s in enumerate(segments)],
            })

    class SttHandler(Handler):
        max_body = MAX_UPLOAD
        routes = {("POST", "/v1/audio/transcriptions"): transcriptions, **health_route(model_name)}

    return SttHandler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="folder of a CTranslate2 Whisper model")
    ap.add_argument("--model-name", default="local-stt", help="the name /v1/models reports")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--language", default="en", help="used when a request names none")
    ap.add_argument("--window", type=float, default=10.0,
                    help="seconds of the encoder's window for short audio (0: always 30 s)")
    args = ap.parse_args()
    engine = Engine(args.model, args.threads, args.beam_size, args.language, args.window)
    # Warm-up: the first decode allocates and compiles kernels; do it before listening. Both
    # paths: a long utterance's first request is warm too.
    engine.transcribe(np.zeros(RATE, np.float32), None)
    engine.transcribe(np.zeros(int(args.window + WINDOW_TAIL + 1) * RATE, np.float32), None)
    serve(make_handler(engine, args.model_name), args.host, args.port, "stt")


if __name__ == "__main__":
    main()
