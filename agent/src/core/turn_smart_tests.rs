//! Unit tests of dynamic endpointing in the turn machine (an end-of-turn model's verdicts),
//! on a manual clock.

use super::*;
use crate::core::endpoint::{SmartEndpointing, Verdict};

/// VAD delay 0.5 s; the model's threshold 0.5, minimum 0.2 s, maximum 3 s.
fn rig() -> Rig {
    Rig::with(TurnConfig {
        smart: Some(SmartEndpointing::default()),
        preemptive: false,
        ..TurnConfig::default()
    })
}

impl Rig {
    /// Alice speaks from `from` to `to` (the VAD says so 200 ms later) and her words are
    /// transcribed at once; returns the part and the audio the model is asked about.
    fn says(&mut self, from: u64, to: u64, samples: usize, text: &str) -> (PartId, Vec<i16>) {
        let alice = id("alice");
        self.m.speech_started(&alice, self.at(from), self.at(from + 60));
        self.m.speech_ended(&alice, vec![7; samples], self.at(to), self.at(to + 200));
        let (part, heard) = match self.commands().as_slice() {
            [Command::Predict { part, who, pcm }, Command::Transcribe { part: p2, .. }] => {
                assert_eq!((who.as_ref(), part), ("alice", p2));
                (*part, pcm.clone())
            }
            other => panic!("expected a prediction and a transcription: {other:?}"),
        };
        self.m.transcribed(part, Transcript::Text(text.into()), self.at(to + 210));
        (part, heard)
    }
    fn answer(&mut self) -> Option<(Vec<String>, Instant)> {
        match self.commands().as_slice() {
            [] => None,
            [Command::Respond { said, speech_ended, .. }] => {
                Some((said.iter().map(|s| s.text.clone()).collect(), *speech_ended))
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_finished_question_is_answered_after_the_short_delay() {
    let mut r = rig();
    let (part, heard) = r.says(0, 1000, 1600, "What time is it?");
    assert_eq!(heard.len(), 1600);
    assert_eq!(r.m.verdict(), Some(Verdict::Pending));
    r.m.end_of_turn(part, Some(0.93), r.at(1240));
    // 1000 + 200 ms has passed already: the answer goes at once, well before the VAD's 1500.
    assert_eq!(r.answer(), Some((vec!["What time is it?".into()], r.at(1000))));
    assert_eq!(r.m.phase(), Phase::Thinking);
}

#[test]
fn a_fast_verdict_still_waits_the_minimum_delay() {
    let mut r = rig();
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(0), r.at(60));
    // A VAD with a very short silence wait: the pause is known 50 ms after the speech.
    r.m.speech_ended(&alice, vec![1; 10], r.at(1000), r.at(1050));
    let part = match r.commands().as_slice() {
        [Command::Predict { part, .. }, Command::Transcribe { .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(part, Transcript::Text("Hello.".into()), r.at(1060));
    r.m.end_of_turn(part, Some(0.8), r.at(1080));
    assert_eq!(r.answer(), None);
    assert_eq!(r.m.poll_timeout(), Some(r.at(1200)));
    r.advance(1199);
    assert_eq!(r.answer(), None);
    r.advance(1200);
    assert!(r.answer().is_some());
}

#[test]
fn a_hesitation_waits_for_the_rest_and_is_answered_once() {
    let mut r = rig();
    let (p1, heard1) = r.says(0, 1500, 2000, "I'd like to book a table for");
    r.m.end_of_turn(p1, Some(0.04), r.at(1760));
    assert_eq!(r.m.verdict(), Some(Verdict::Incomplete));
    // Not at the VAD's 0.5 s: she may go on for up to 3 s.
    assert_eq!(r.m.poll_timeout(), Some(r.at(4500)));
    r.advance(2499);
    assert_eq!(r.answer(), None);
    // She goes on after a 1 s pause.
    let (p2, heard2) = r.says(2500, 3500, 1000, "four people.");
    assert_eq!(heard2.len(), heard1.len() + 1000, "the model hears the whole turn so far");
    r.advance(3900);
    assert_eq!(r.answer(), None, "waits for the verdict on the new pause (asked at 3700: until 4200)");
    r.m.end_of_turn(p1, Some(0.99), r.at(3901));
    assert_eq!(r.answer(), None, "a verdict on the old pause is ignored");
    r.m.end_of_turn(p2, Some(0.9), r.at(3910));
    let (said, ended) = r.answer().expect("answered");
    assert_eq!(said, ["I'd like to book a table for", "four people."]);
    assert_eq!(ended, r.at(3500));
    assert_eq!(r.m.verdict(), None, "the next turn starts unasked");
}

#[test]
fn a_hesitation_that_stays_silent_is_answered_after_the_maximum() {
    let mut r = rig();
    let (part, _) = r.says(0, 1000, 100, "So I was thinking");
    r.m.end_of_turn(part, Some(0.2), r.at(1300));
    assert_eq!(r.m.verdict(), Some(Verdict::Incomplete));
    r.advance(3999);
    assert_eq!(r.answer(), None);
    r.advance(4000);
    assert_eq!(r.answer(), Some((vec!["So I was thinking".into()], r.at(1000))));
}

#[test]
fn a_slow_or_failed_model_falls_back_to_the_vad_delay() {
    // Slow: no verdict yet. Asked at 1200 (the VAD's 200 ms wait), the model has until 1700;
    // then the VAD delay (due at 1500) has passed and the turn is taken.
    let mut r = rig();
    let (part, _) = r.says(0, 1000, 100, "Is it raining?");
    r.advance(1699);
    assert_eq!(r.answer(), None);
    r.advance(1700);
    assert!(r.answer().is_some());
    // A verdict arriving after the answer changes nothing.
    r.m.end_of_turn(part, Some(0.1), r.at(1800));
    assert!(r.commands().is_empty());

    // Failed (or refused when busy): the VAD delay too.
    let mut r = rig();
    let (part, _) = r.says(0, 1000, 100, "Is it raining?");
    r.m.end_of_turn(part, None, r.at(1250));
    assert_eq!(r.m.verdict(), Some(Verdict::Unknown));
    assert_eq!(r.m.poll_timeout(), Some(r.at(1500)));
    r.advance(1500);
    assert!(r.answer().is_some());
}

#[test]
fn the_model_hears_at_most_eight_seconds_of_the_turn_and_each_turn_afresh() {
    let mut r = rig();
    let (p1, _) = r.says(0, 6000, 6 * 16_000, "A long story");
    r.m.end_of_turn(p1, Some(0.1), r.at(6300));
    let (p2, heard) = r.says(6500, 9000, 4 * 16_000, "that goes on");
    assert_eq!(heard.len(), TURN_AUDIO);
    assert!(heard.iter().all(|&s| s == 7));
    r.m.end_of_turn(p2, Some(0.9), r.at(9300));
    assert!(r.answer().is_some());
    // The next turn starts from nothing.
    let alice = id("alice");
    r.m.agent_done(3, r.at(9400));
    r.m.speech_started(&alice, r.at(10_000), r.at(10_060));
    r.m.speech_ended(&alice, vec![1; 500], r.at(11_000), r.at(11_200));
    match r.commands().as_slice() {
        [Command::Predict { pcm, .. }, Command::Transcribe { .. }] => assert_eq!(pcm.len(), 500),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_short_noise_during_the_answer_is_not_sent_to_the_model() {
    let mut r = rig();
    let (part, _) = r.says(0, 1000, 100, "Tell me a story.");
    r.m.end_of_turn(part, Some(0.9), r.at(1250));
    let turn = match r.commands().as_slice() {
        [Command::Respond { turn, .. }] => *turn,
        other => panic!("{other:?}"),
    };
    r.m.agent_audio_started(turn);
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(2000), r.at(2060));
    r.m.speech_ended(&alice, vec![3; 100], r.at(2200), r.at(2400));
    assert!(r.commands().is_empty(), "a cough is neither predicted nor transcribed");
    assert_eq!(r.m.phase(), Phase::Speaking);
}

#[test]
fn a_typed_message_ends_a_hesitant_turn_at_once() {
    let mut r = rig();
    let (p1, _) = r.says(0, 1000, 1600, "I'd like to book a table for");
    r.m.end_of_turn(p1, Some(0.04), r.at(1260));
    assert_eq!(r.answer(), None, "a hesitation waits for more");
    // The rest comes typed: a sent message is a finished turn, answered with what was said.
    r.m.typed(&id("alice"), "two people at eight", r.at(1500));
    let (said, _) = r.answer().expect("answered at once");
    assert_eq!(said, ["I'd like to book a table for", "two people at eight"]);
    assert_eq!(r.m.verdict(), None);
}

#[path = "turn_question_tests.rs"]
mod questions;
