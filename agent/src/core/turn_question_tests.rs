//! Unit tests of questions the end-of-turn model hears as unfinished (a flat voice): the
//! words decide the wait (`question_delay`), and the reply is prepared meanwhile. Part of the
//! smart tests, on a manual clock.

use super::*;

/// The smart rig with preemptive replies on, and `question_delay` as given.
fn preemptive(question_delay: Duration) -> Rig {
    let smart = SmartEndpointing { question_delay, ..SmartEndpointing::default() };
    Rig::with(TurnConfig { smart: Some(smart), ..TurnConfig::default() })
}

impl Rig {
    /// Alice speaks from `from` to `to`, the VAD says so 200 ms later; returns the part
    /// (asked about and sent to STT; its transcript is not in yet).
    fn pauses(&mut self, from: u64, to: u64) -> PartId {
        let alice = id("alice");
        self.m.speech_started(&alice, self.at(from), self.at(from + 60));
        self.m.speech_ended(&alice, vec![7; 1600], self.at(to), self.at(to + 200));
        match self.commands().as_slice() {
            [Command::Predict { part, .. }, Command::Transcribe { .. }] => *part,
            other => panic!("expected a prediction and a transcription: {other:?}"),
        }
    }
    fn prepared_turn(&mut self) -> TurnId {
        match self.commands().as_slice() {
            [Command::Prepare { turn, said, speech_ended }] => {
                assert_eq!(*speech_ended, self.at(1000));
                assert_eq!(said.len(), 1);
                *turn
            }
            other => panic!("expected a prepared reply: {other:?}"),
        }
    }
}

const SKY: &str = "What colour is the sky on a clear day?";

#[test]
fn an_unfinished_question_is_prepared_and_answered_after_the_question_delay() {
    // The verdict comes before the transcript (as measured): nothing is prepared on the
    // verdict alone; the question mark then starts the reply, due 1 s after the speech.
    let mut r = preemptive(Duration::from_secs(1));
    let part = r.pauses(0, 1000);
    r.m.end_of_turn(part, Some(0.05), r.at(1250));
    assert_eq!((r.m.verdict(), r.commands()), (Some(Verdict::Incomplete), vec![]));
    r.m.transcribed(part, Transcript::Text(format!(" {SKY} ")), r.at(1400));
    let turn = r.prepared_turn();
    assert_eq!(r.m.poll_timeout(), Some(r.at(2000)), "not the maximum's 4000");
    r.advance(1999);
    assert!(r.commands().is_empty());
    r.advance(2000);
    match r.commands().as_slice() {
        [Command::Release { turn: t, said, speech_ended }] => {
            assert_eq!((*t, said[0].text.as_str(), *speech_ended), (turn, SKY, r.at(1000)));
        }
        other => panic!("expected the prepared reply released: {other:?}"),
    }

    // The transcript first: the reply is prepared on it and kept through the verdict.
    let mut r = preemptive(Duration::from_secs(1));
    let part = r.pauses(0, 1000);
    r.m.transcribed(part, Transcript::Text("Where do we live?\"".into()), r.at(1210));
    let turn = r.prepared_turn();
    r.m.end_of_turn(part, Some(0.2), r.at(1300));
    assert!(r.commands().is_empty());
    r.advance(2000);
    assert!(matches!(r.commands().as_slice(), [Command::Release { turn: t, .. }] if *t == turn));

    // Without preemptive replies: answered at the same time.
    let mut r = rig();
    let (part, _) = r.says(0, 1000, 1600, SKY);
    r.m.end_of_turn(part, Some(0.05), r.at(1250));
    r.advance(1999);
    assert_eq!(r.answer(), None);
    r.advance(2000);
    assert_eq!(r.answer(), Some((vec![SKY.into()], r.at(1000))));
}

/// An unfinished verdict on `text` with `question_delay`: nothing is prepared, and the answer
/// comes only at the maximum (3 s after the end of speech).
fn waits_the_maximum_and_prepares_nothing(question_delay: Duration, text: &str) {
    let mut r = preemptive(question_delay);
    let part = r.pauses(0, 1000);
    r.m.end_of_turn(part, Some(0.05), r.at(1250));
    r.m.transcribed(part, Transcript::Text(text.into()), r.at(1400));
    assert!(r.commands().is_empty(), "nothing prepared for {text:?}");
    assert_eq!(r.m.poll_timeout(), Some(r.at(4000)));
    r.advance(3999);
    assert!(r.commands().is_empty());
    r.advance(4000);
    assert!(matches!(r.commands().as_slice(), [Command::Respond { .. }]));
}

#[test]
fn an_unfinished_statement_still_waits_the_maximum_and_prepares_nothing() {
    waits_the_maximum_and_prepares_nothing(Duration::from_secs(1), "So I was thinking? about it");
    waits_the_maximum_and_prepares_nothing(Duration::from_secs(1), "So I was thinking");
}

#[test]
fn a_question_delay_of_zero_is_off() {
    waits_the_maximum_and_prepares_nothing(Duration::ZERO, SKY);
}

#[test]
fn a_finished_question_is_not_slowed_by_its_question_mark() {
    let mut r = preemptive(Duration::from_secs(1));
    let part = r.pauses(0, 1000);
    r.m.transcribed(part, Transcript::Text(SKY.into()), r.at(1210));
    let turn = r.prepared_turn();
    r.m.end_of_turn(part, Some(0.9), r.at(1250));
    assert!(matches!(r.commands().as_slice(), [Command::Release { turn: t, .. }] if *t == turn));
}

#[test]
fn going_on_before_the_question_is_due_discards_the_prepared_reply() {
    let mut r = preemptive(Duration::from_secs(1));
    let alice = id("alice");
    let part = r.pauses(0, 1000);
    r.m.end_of_turn(part, Some(0.05), r.at(1250));
    r.m.transcribed(part, Transcript::Text("Where do we live?".into()), r.at(1400));
    let first = r.prepared_turn();
    // She goes on at 1.6 s, past the question's due time: nothing is released while she
    // speaks.
    r.m.speech_started(&alice, r.at(1600), r.at(1660));
    r.advance(3500);
    assert!(r.commands().is_empty(), "nothing answered while she speaks");
    r.m.speech_ended(&alice, vec![7; 800], r.at(2600), r.at(2800));
    let p2 = match r.commands().as_slice() {
        [Command::Predict { part, .. }, Command::Transcribe { .. }] => *part,
        other => panic!("{other:?}"),
    };
    // Her words change what would be answered: the first reply goes, the turn goes on.
    r.m.transcribed(p2, Transcript::Text("I mean in which country".into()), r.at(2900));
    let second = match r.commands().as_slice() {
        [Command::Discard { turn }, Command::Prepare { turn: next, said, .. }] => {
            assert_eq!(*turn, first);
            let texts: Vec<&str> = said.iter().map(|s| s.text.as_str()).collect();
            assert_eq!(texts, ["Where do we live?", "I mean in which country"]);
            *next
        }
        other => panic!("expected the first reply discarded: {other:?}"),
    };
    // Unfinished, and no question mark at the end any more: the maximum again.
    r.m.end_of_turn(p2, Some(0.05), r.at(2950));
    assert_eq!(r.m.poll_timeout(), Some(r.at(5600)));
    r.advance(5599);
    assert!(r.commands().is_empty());
    r.advance(5600);
    assert!(matches!(r.commands().as_slice(), [Command::Release { turn, .. }] if *turn == second));
}
