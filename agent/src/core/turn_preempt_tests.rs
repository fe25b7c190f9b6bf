//! Unit tests of preemptive replies in the turn machine, on a manual clock: a reply prepared
//! at the pause, released when the turn is confirmed, discarded when the user goes on.

use super::*;
use crate::core::endpoint::{SmartEndpointing, Verdict};

/// VAD delay 0.5 s, preemptive replies on.
fn rig() -> Rig {
    Rig::with(TurnConfig::default())
}

/// The same with the end-of-turn model (threshold 0.5, minimum 0.2 s, maximum 3 s).
fn smart_rig() -> Rig {
    Rig::with(TurnConfig { smart: Some(SmartEndpointing::default()), ..TurnConfig::default() })
}

fn said(texts: &[&str]) -> Vec<Said> {
    texts.iter().map(|t| Said { who: id("alice"), text: (*t).to_owned() }).collect()
}

impl Rig {
    /// Alice speaks from `from` to `to`; a VAD with a short silence wait reports it 100 ms
    /// later; returns the utterance (its transcription is the last command).
    fn speaks(&mut self, from: u64, to: u64) -> PartId {
        let alice = id("alice");
        self.m.speech_started(&alice, self.at(from), self.at(from + 60));
        self.m.speech_ended(&alice, vec![5; 160], self.at(to), self.at(to + 100));
        match self.commands().last() {
            Some(Command::Transcribe { part, .. }) => *part,
            other => panic!("no transcription requested: {other:?}"),
        }
    }
    /// With the end-of-turn model: Alice speaks from 0 to 1 s, and the VAD's 0.2 s pause ends
    /// the utterance; returns it (the model is asked about it, its words are transcribed).
    fn smart_pause(&mut self) -> PartId {
        let alice = id("alice");
        self.m.speech_started(&alice, self.at(0), self.at(60));
        self.m.speech_ended(&alice, vec![7; 1600], self.at(1000), self.at(1200));
        match self.commands().as_slice() {
            [Command::Predict { part, .. }, Command::Transcribe { .. }] => *part,
            other => panic!("expected a question to the model and a transcription: {other:?}"),
        }
    }
    /// The reply prepared by the last input.
    fn prepared(&mut self) -> (TurnId, Vec<Said>, Instant) {
        match self.commands().as_slice() {
            [Command::Prepare { turn, said, speech_ended }] => (*turn, said.clone(), *speech_ended),
            other => panic!("expected a prepared reply: {other:?}"),
        }
    }
}

#[test]
fn a_reply_is_prepared_at_the_pause_and_released_when_the_turn_is_confirmed() {
    let mut r = rig();
    let part = r.speaks(0, 1000);
    r.m.transcribed(part, Transcript::Text(" What time is it? ".into()), r.at(1150));
    // Started as soon as the transcript is in, 350 ms before the endpointing delay is over.
    let (turn, what, ended) = r.prepared();
    assert_eq!((what, ended), (said(&["What time is it?"]), r.at(1000)));
    assert_eq!(r.m.prepared(), Some(turn));
    // Not the agent's turn yet: nobody sees it thinking, a barge-in has nothing to stop.
    assert_eq!(r.m.phase(), Phase::Endpointing);
    r.m.agent_audio_started(turn);
    assert_eq!(r.m.phase(), Phase::Endpointing, "a held reply cannot start speaking");
    r.advance(1499);
    assert!(r.commands().is_empty());
    r.advance(1500);
    assert_eq!(
        r.commands(),
        [Command::Release { turn, said: said(&["What time is it?"]), speech_ended: r.at(1000) }]
    );
    assert_eq!((r.m.phase(), r.m.prepared()), (Phase::Thinking, None));
    r.m.agent_audio_started(turn);
    assert_eq!(r.m.phase(), Phase::Speaking);
    r.m.agent_done(turn, r.at(3000));
    assert_eq!(r.m.phase(), Phase::Listening);
    assert!(r.commands().is_empty());
}

#[test]
fn the_user_going_on_discards_the_prepared_reply_and_the_whole_sentence_is_answered() {
    let mut r = rig();
    let p1 = r.speaks(0, 1000);
    r.m.transcribed(p1, Transcript::Text("I'd like to book a table for".into()), r.at(1150));
    let (first, ..) = r.prepared();
    // She goes on within the delay: nothing is decided while she speaks.
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(1300), r.at(1360));
    r.advance(1900);
    assert!(r.commands().is_empty());
    assert_eq!(r.m.phase(), Phase::UserSpeaking);
    r.m.speech_ended(&alice, vec![5; 160], r.at(2000), r.at(2100));
    let p2 = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(p2, Transcript::Text("four people.".into()), r.at(2150));
    // Her new words change what would be answered: the first reply is dropped, a new one
    // prepared with the whole sentence.
    let both = said(&["I'd like to book a table for", "four people."]);
    let second = match r.commands().as_slice() {
        [Command::Discard { turn }, Command::Prepare { turn: t2, said, speech_ended }] => {
            assert_eq!((*turn, said, *speech_ended), (first, &both, r.at(2000)));
            *t2
        }
        other => panic!("{other:?}"),
    };
    assert_ne!(second, first);
    r.advance(2500);
    assert_eq!(r.commands(), [Command::Release { turn: second, said: both, speech_ended: r.at(2000) }]);
    // The discarded reply never becomes the agent's turn, whatever its task reports.
    r.m.agent_audio_started(first);
    r.m.agent_done(first, r.at(2600));
    assert_eq!(r.m.phase(), Phase::Thinking);
    assert!(r.commands().is_empty());
}

#[test]
fn a_noise_after_the_pause_keeps_the_prepared_reply() {
    let mut r = rig();
    let p1 = r.speaks(0, 1000);
    r.m.transcribed(p1, Transcript::Text("Is it raining?".into()), r.at(1150));
    let (turn, ..) = r.prepared();
    // A cough: an utterance whose transcript has no words.
    let p2 = r.speaks(1200, 1400);
    r.m.transcribed(p2, Transcript::Text(" ".into()), r.at(1550));
    assert!(r.commands().is_empty(), "what would be answered has not changed");
    // The delay now counts from the cough's end.
    assert_eq!(r.m.poll_timeout(), Some(r.at(1900)));
    r.advance(1900);
    assert_eq!(
        r.commands(),
        [Command::Release { turn, said: said(&["Is it raining?"]), speech_ended: r.at(1400) }]
    );
}

#[test]
fn smart_a_reply_is_prepared_before_the_verdict_and_released_by_it() {
    let mut r = smart_rig();
    // The VAD's 0.2 s pause: the model is asked, the words transcribed.
    let part = r.smart_pause();
    r.m.transcribed(part, Transcript::Text("What time is it?".into()), r.at(1215));
    let (turn, ..) = r.prepared();
    assert_eq!(r.m.verdict(), Some(Verdict::Pending));
    // The model takes 150 ms; its "finished" confirms the turn at once.
    r.m.end_of_turn(part, Some(0.9), r.at(1350));
    assert_eq!(
        r.commands(),
        [Command::Release { turn, said: said(&["What time is it?"]), speech_ended: r.at(1000) }]
    );
}

#[test]
fn smart_an_unfinished_verdict_prepares_nothing_and_a_running_reply_waits() {
    // The verdict comes before the transcript: "unfinished" — nothing is started.
    let mut r = smart_rig();
    let part = r.smart_pause();
    r.m.end_of_turn(part, Some(0.05), r.at(1250));
    r.m.transcribed(part, Transcript::Text("So I was thinking".into()), r.at(1260));
    assert!(r.commands().is_empty(), "a likely hesitation is not answered ahead");

    // The transcript comes first: the reply runs; an "unfinished" verdict keeps it waiting
    // (up to the maximum), and it is used if she stays silent.
    let mut r = smart_rig();
    let part = r.smart_pause();
    r.m.transcribed(part, Transcript::Text("So I was thinking".into()), r.at(1210));
    let (turn, ..) = r.prepared();
    r.m.end_of_turn(part, Some(0.05), r.at(1250));
    assert!(r.commands().is_empty());
    r.advance(3999);
    assert!(r.commands().is_empty());
    r.advance(4000);
    assert!(matches!(r.commands().as_slice(), [Command::Release { turn: t, .. }] if *t == turn));
}

#[test]
fn a_typed_message_discards_the_prepared_reply_and_is_answered_with_it() {
    let mut r = rig();
    let p1 = r.speaks(0, 1000);
    r.m.transcribed(p1, Transcript::Text("Book a table".into()), r.at(1150));
    let (first, ..) = r.prepared();
    r.m.typed(&id("alice"), "for two at eight", r.at(1200));
    match r.commands().as_slice() {
        [Command::Discard { turn }, Command::Respond { said: s, .. }] => {
            assert_eq!(*turn, first);
            assert_eq!(s, &said(&["Book a table", "for two at eight"]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_transcription_discards_the_prepared_reply_for_the_notice() {
    let mut r = rig();
    let p1 = r.speaks(0, 1000);
    r.m.transcribed(p1, Transcript::Text("What's the time".into()), r.at(1150));
    r.prepared();
    let p2 = r.speaks(1200, 1400);
    // Words were lost: what was said is no longer known; the prepared reply stays until the
    // turn is decided, then the words understood are answered.
    r.m.transcribed(p2, Transcript::Failed { notice: Some("I can't hear you.".into()) }, r.at(1450));
    assert!(r.commands().is_empty());
    r.advance(1900);
    assert!(matches!(r.commands().as_slice(), [Command::Release { .. }]));

    // Nothing understood at all: the notice, and nothing prepared.
    let mut r = rig();
    let p1 = r.speaks(0, 1000);
    r.m.transcribed(p1, Transcript::Failed { notice: Some("I can't hear you.".into()) }, r.at(1150));
    assert!(r.commands().is_empty());
    r.advance(1500);
    assert!(matches!(r.commands().as_slice(), [Command::Say { reason: SayReason::Notice, .. }]));
}

#[test]
fn nothing_is_prepared_while_an_interrupted_turn_is_still_ending() {
    let mut r = rig();
    let p1 = r.speaks(0, 1000);
    r.m.transcribed(p1, Transcript::Text("Tell me a story.".into()), r.at(1150));
    let (turn, ..) = r.prepared();
    r.advance(1500);
    r.commands();
    r.m.agent_audio_started(turn);
    // A barge-in: the story stops, but its task has not reported what was heard yet.
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(2000), r.at(2060));
    r.advance(2600);
    assert_eq!(r.commands(), [Command::Interrupt { turn }]);
    r.m.speech_ended(&alice, vec![5; 160], r.at(3000), r.at(3100));
    let p2 = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(p2, Transcript::Text("A shorter one.".into()), r.at(3150));
    assert!(r.commands().is_empty(), "the history does not hold what was heard yet");
    r.m.agent_done(turn, r.at(3200));
    let (_, what, _) = r.prepared();
    assert_eq!(what, said(&["A shorter one."]));
}

#[test]
fn a_prepared_reply_that_ends_on_its_own_is_prepared_again() {
    let mut r = rig();
    let p1 = r.speaks(0, 1000);
    r.m.transcribed(p1, Transcript::Text("Hello there.".into()), r.at(1150));
    let (first, ..) = r.prepared();
    // Its task ended before the release (cancelled by the session, or failed).
    r.m.agent_done(first, r.at(1200));
    let (second, what, _) = r.prepared();
    assert_ne!(second, first);
    assert_eq!(what, said(&["Hello there."]));
    r.advance(1500);
    assert!(matches!(r.commands().as_slice(), [Command::Release { turn, .. }] if *turn == second));
}
