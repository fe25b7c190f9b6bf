"""espeak-ng speech with the sample position of every word, for turn-taking fixtures.

The espeak-ng command line writes audio but not where each word starts; the library it is
built on reports that as word events. This module drives the library (libespeak-ng.so.1,
Debian's libespeak-ng1 that espeak-ng depends on) through ctypes in synchronous mode, then
converts the 22,050 Hz output to 16 kHz with sox, as tests/fixtures/make_fixtures.sh does.

A sentence synthesised once and cut at a word start keeps the prosody of the middle of a
sentence: "I would like to book a table for | four people" cut at the bar is heard as
unfinished, while synthesising "I would like to book a table for" on its own ends with the
falling pitch of a finished statement.

    from espeak_words import synth
    pcm, words = synth("What time is it?")   # int16 at 16 kHz, [(word, start_sample), ...]
"""

import ctypes
import subprocess

import numpy as np

RATE = 16000
_EVENT_WORD = 1
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_RATE = 1


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_lib = None
_rate = 0
_chunks = []
_words = []


def _on_audio(wav, n, events):
    if n > 0:
        _chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    i = 0
    while events[i].type != 0:
        if events[i].type == _EVENT_WORD:
            _words.append((events[i].text_position, events[i].length, events[i].sample))
        i += 1
    return 0


_keep = _CALLBACK(_on_audio)


def _init():
    global _lib, _rate
    if _lib is None:
        _lib = ctypes.CDLL("libespeak-ng.so.1")
        _rate = _lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 500, None, 0)
        if _rate <= 0:
            raise RuntimeError("espeak-ng did not initialise (is espeak-ng-data installed?)")
        _lib.espeak_SetSynthCallback(_keep)
    return _lib


def _to_16k(pcm: np.ndarray, rate: int) -> np.ndarray:
    out = subprocess.run(
        ["sox", "-R", "-D", "-V1", "-t", "raw", "-r", str(rate), "-e", "signed", "-b", "16", "-c", "1", "-",
         "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=pcm.astype("<i2").tobytes(), capture_output=True, check=True)
    return np.frombuffer(out.stdout, dtype="<i2").copy()


def synth(text: str, voice: str = "en-us", speed: int = 160):
    """16 kHz int16 PCM of `text` and [(word, start sample at 16 kHz), ...]."""
    lib = _init()
    _chunks.clear()
    _words.clear()
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise RuntimeError(f"espeak-ng has no voice {voice}")
    lib.espeak_SetParameter(_ESPEAK_RATE, speed, 0)
    data = text.encode()
    lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, 0, None, None)
    lib.espeak_Synchronize()
    pcm = np.concatenate(_chunks) if _chunks else np.zeros(0, dtype=np.int16)
    words = []
    for pos, length, sample in _words:
        word = data[pos - 1:pos - 1 + length].decode(errors="replace")
        words.append((word, int(round(sample * RATE / _rate))))
    return _to_16k(pcm, _rate), words


def silence(secs: float) -> np.ndarray:
    return np.zeros(int(round(secs * RATE)), dtype=np.int16)


def write_wav(path, pcm: np.ndarray) -> None:
    import wave
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype("<i2").tobytes())
