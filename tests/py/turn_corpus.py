"""Writes the turn-taking corpus for bench-turns: espeak-ng sentences, each twice — whole
(complete_NN.wav) and with a pause of 0.5–1.2 s inserted before a word in the middle
(hesitant_NN.wav) — at 16 kHz mono s16, and manifest.json with the sample positions that
matter (where the pause starts, where speech resumes, the last loud sample).

The sentence is synthesised once and the silence inserted where the word begins
(espeak_words.py), so the first half keeps the prosody of an unfinished sentence.

    python tests/py/turn_corpus.py OUT_DIR
"""

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from espeak_words import RATE, silence, synth, write_wav  # noqa: E402

# (sentence, the pause goes before this word)
SENTENCES = [
    ("What is the weather like in Paris tomorrow?", "Paris"),
    ("I would like to book a table for four people tonight.", "four"),
    ("Can you tell me how to get to the train station?", "train"),
    ("My name is John and I live in London.", "London"),
    ("Please send the report to my manager by Friday.", "manager"),
    ("I need a taxi to the airport at six in the morning.", "airport"),
    ("Could you turn the lights off in the kitchen?", "kitchen"),
    ("I'm looking for a restaurant that serves Italian food.", "Italian"),
    ("How much does a ticket to Berlin cost?", "Berlin"),
    ("Remind me to call my sister after lunch.", "sister"),
    ("What time does the pharmacy close on Sundays?", "pharmacy"),
    ("I want to change my flight to next Tuesday.", "next"),
    ("Can you play some music from the nineties?", "nineties"),
    ("Set an alarm for seven thirty tomorrow morning.", "seven"),
    ("Where is the nearest hospital from here?", "nearest"),
    ("I would like to order a large pizza with mushrooms.", "large"),
    ("Tell me a joke about cats and dogs.", "cats"),
    ("How do I reset the password for my account?", "password"),
    ("My package was supposed to arrive on Monday.", "Monday"),
    ("Is there a bus that goes to the city centre?", "city"),
    ("I have an appointment with the dentist at three.", "dentist"),
    ("Could you read me the latest news about the election?", "latest"),
    ("We are planning a trip to Spain in the summer.", "Spain"),
    ("Add milk and eggs to my shopping list.", "eggs"),
    ("What is the capital city of Australia?", "Australia"),
    ("I lost my wallet somewhere near the park.", "park"),
    ("Can you translate this sentence into French?", "French"),
    ("How long does it take to boil an egg?", "boil"),
    ("Please book me a room at the hotel for two nights.", "hotel"),
    ("Which movie won the award for best picture last year?", "best"),
    ("I would like to pay my electricity bill today.", "electricity"),
    ("What did the doctor say about my test results?", "test"),
    ("Turn up the heating in the living room please.", "living"),
    ("Do you know a good recipe for chocolate cake?", "chocolate"),
    ("My daughter starts school again in September.", "September"),
    ("Find me a cheap flight from Rome to Madrid.", "Madrid"),
    ("How many people live in New York City?", "New"),
    ("I think the meeting has been moved to Thursday afternoon.", "Thursday"),
    ("Could you check if the store has my size in blue?", "size"),
    ("What is the best way to learn a new language?", "learn"),
]
PAUSES = [0.5, 0.7, 0.9, 1.2]
LEAD = 0.3


def last_loud(pcm: np.ndarray) -> int:
    loud = np.nonzero(np.abs(pcm.astype(np.int32)) > 300)[0]
    return int(loud[-1]) + 1 if len(loud) else len(pcm)


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    lead = len(silence(LEAD))
    manifest = []
    for i, (text, word) in enumerate(SENTENCES):
        pcm, words = synth(text)
        pcm = pcm[:last_loud(pcm)]
        starts = [s for w, s in words if w.strip(".,?!'") == word]
        assert starts, f"{word!r} is not a word of {text!r}: {words}"
        cut = last_loud(pcm[:starts[0]])
        pause = PAUSES[i % len(PAUSES)]
        gap = len(silence(pause))
        resume = starts[0]
        complete = f"complete_{i:02}.wav"
        write_wav(out / complete, np.concatenate([silence(LEAD), pcm]))
        manifest.append({"file": complete, "text": text, "speech_end": lead + len(pcm)})
        hesitant = f"hesitant_{i:02}.wav"
        write_wav(out / hesitant, np.concatenate([silence(LEAD), pcm[:cut], silence(pause), pcm[resume:]]))
        manifest.append({
            "file": hesitant, "text": text, "pause_before": word, "pause_secs": pause,
            "pause_start": lead + cut, "resume": lead + cut + gap,
            "speech_end": lead + cut + gap + len(pcm) - resume,
        })
    (out / "manifest.json").write_text(json.dumps({"rate": RATE, "utterances": manifest}, indent=1))
    print(f"{len(manifest)} utterances in {out}")


if __name__ == "__main__":
    main()
