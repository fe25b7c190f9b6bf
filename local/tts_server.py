"""Text to speech: hibari behind an OpenAI-compatible `/v1/audio/speech`, streamed per sentence.

    python local/tts_server.py --port 8093

The request is OpenAI's JSON: `input`, `response_format` (`pcm`: raw s16le mono 24 kHz, the
default the agent asks for; or `wav`), `speed` (0.25-4, clamped to hibari's 0.5-2), `model`
and `voice` (accepted and ignored: one voice is loaded; OpenAI names such as `alloy` map to
it). PCM answers are chunked, one chunk per sentence as soon as it is synthesized, so the
first byte comes after the first sentence, not after the whole text. Only voices inside the
installed package are used: nothing is downloaded at run time.
"""

import argparse
import io
import threading

import numpy as np

from common import HttpError, Handler, health_route, serve

MAX_INPUT_CHARS = 4096  # OpenAI's own limit


def to_pcm16(audio):
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class Engine:
    """One loaded hibari voice; synthesis is serialized (one ONNX session, small machine)."""

    def __init__(self, voice, threads):
        from hibari import Hibari
        from hibari.voices import voice_path
        # download_missing=False: a voice that is not in the package is an error, not a fetch.
        self.tts = Hibari(voice=voice, model=voice_path(voice, download_missing=False), threads=threads)
        self.rate = self.tts.sample_rate
        self.lock = threading.Lock()

    def sentences(self, text, speed):
        """PCM bytes per sentence, each as soon as it is ready."""
        for phonemes in self.tts.phonemize(text):
            with self.lock:
                audio = self.tts.from_ids(self.tts.ids(phonemes), speed)
            yield to_pcm16(audio)


def wav_bytes(pcm, rate):
    import wave
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def make_handler(engine, model_name):
    def speech(h):
        body = h.read_json()
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            raise HttpError(400, "'input' must be a non-empty string")
        if len(text) > MAX_INPUT_CHARS:
            raise HttpError(400, f"'input' is longer than {MAX_INPUT_CHARS} characters")
        fmt = body.get("response_format", "mp3")
        if fmt not in ("pcm", "wav"):
            raise HttpError(400, f"response_format {fmt!r} is not supported here (pcm, wav)")
        speed = body.get("speed", 1.0)
        if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
            raise HttpError(400, "'speed' must be a number from 0.25 to 4")
        speed = min(max(float(speed), 0.5), 2.0)
        if fmt == "wav":
            pcm = b"".join(engine.sentences(text, speed))
            h.send_bytes(200, "audio/wav", wav_bytes(pcm, engine.rate))
            return
        h.start_chunked("audio/pcm")
        for pcm in engine.sentences(text, speed):
            h.write_chunk(pcm)
        h.end_chunked()

    class TtsHandler(Handler):
        max_body = 64 << 10
        routes = {("POST", "/v1/audio/speech"): speech, **health_route(model_name)}

    return TtsHandler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voice", default="heart", help="a hibari voice shipped in the package")
    ap.add_argument("--model-name", default="local-tts", help="the name /v1/models reports")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8093)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    engine = Engine(args.voice, args.threads)
    if engine.rate != 24_000:
        raise SystemExit(f"tts: the voice renders {engine.rate} Hz; the endpoint promises 24000")
    # Warm-up: loads the G2P lexicons and runs the model once before the port opens.
    for _ in engine.sentences("Ready when you are.", 1.0):
        pass
    serve(make_handler(engine, args.model_name), args.host, args.port, "tts")


if __name__ == "__main__":
    main()
