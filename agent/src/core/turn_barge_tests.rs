//! Unit tests of false interruptions (pause, then resume or stop) and of a user who goes away,
//! on a manual clock.

use super::*;
use crate::core::away::AwayConfig;

/// Barge-ins pause the agent; 2 s for words to come after the speech ended.
fn pausing(min_words: usize) -> Rig {
    Rig::with(TurnConfig {
        false_interruption: Some(ms(2000)),
        interrupt_min_words: min_words,
        ..TurnConfig::default()
    })
}

impl Rig {
    /// Alice asks at 0–1000 ms; the answer starts playing. Returns its turn.
    fn answering(&mut self) -> TurnId {
        let alice = id("alice");
        let p = self.utterance(&alice, 0, 1000);
        self.m.transcribed(p, Transcript::Text("Tell me a story".into()), self.at(1600));
        let turn = match self.commands().as_slice() {
            [Command::Respond { turn, .. }] => *turn,
            other => panic!("{other:?}"),
        };
        self.m.agent_audio_started(turn);
        turn
    }

    /// Alice makes a sound from `from` to `to` over the answer: paused at `from + 500`, the
    /// VAD ends it 200 ms after `to`. Returns the part to transcribe.
    fn over_the_answer(&mut self, turn: TurnId, from: u64, to: u64) -> PartId {
        let alice = id("alice");
        self.m.speech_started(&alice, self.at(from), self.at(from + 60));
        self.advance(from + 499);
        assert!(self.commands().is_empty(), "nothing before the minimum speech");
        self.advance(from + 500);
        assert_eq!(self.commands(), [Command::Pause { turn }]);
        assert_eq!(self.m.phase(), Phase::Paused);
        self.advance(to + 199);
        assert!(self.commands().is_empty(), "paused while she is heard out");
        self.m.speech_ended(&alice, vec![0; 16], self.at(to), self.at(to + 200));
        match self.commands().as_slice() {
            [Command::Transcribe { part, .. }] => *part,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_noise_burst_pauses_the_answer_and_it_resumes() {
    let mut r = pausing(0);
    let turn = r.answering();
    let part = r.over_the_answer(turn, 3000, 3600);
    assert_eq!(r.m.phase(), Phase::Paused);
    // Whisper hears a cough as nothing (or a bracketed noise tag).
    r.m.transcribed(part, Transcript::Text("[coughing]".into()), r.at(4000));
    assert_eq!(r.commands(), [Command::Resume { turn }]);
    assert_eq!(r.m.phase(), Phase::Speaking);
    assert_eq!((r.m.interruptions(), r.m.false_interruptions()), (0, 1));
    // The answer plays out and nothing is left to answer.
    r.m.agent_done(turn, r.at(9000));
    r.advance(20_000);
    assert!(r.commands().is_empty());
    assert_eq!(r.m.phase(), Phase::Listening);
}

#[test]
fn words_stop_the_paused_answer_and_are_answered() {
    let mut r = pausing(0);
    let turn = r.answering();
    let part = r.over_the_answer(turn, 3000, 4000);
    r.m.transcribed(part, Transcript::Text("Actually, a joke.".into()), r.at(4600));
    match r.commands().as_slice() {
        [Command::Interrupt { turn: t }, Command::Respond { turn: t2, said, speech_ended }] => {
            assert_eq!(*t, turn);
            assert_ne!(*t2, turn);
            assert_eq!(said[0].text, "Actually, a joke.");
            assert_eq!(*speech_ended, r.at(4000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((r.m.interruptions(), r.m.false_interruptions()), (1, 0));
    // The old turn's late end changes nothing.
    r.m.agent_done(turn, r.at(4700));
    assert_eq!(r.m.phase(), Phase::Thinking);
}

#[test]
fn too_few_words_resume_and_enough_stop() {
    let mut r = pausing(2);
    let turn = r.answering();
    let part = r.over_the_answer(turn, 3000, 3600);
    r.m.transcribed(part, Transcript::Text("Mm-hm.".into()), r.at(4000));
    assert_eq!(r.commands(), [Command::Resume { turn }], "a back-channel under the minimum");
    let part = r.over_the_answer(turn, 5000, 6000);
    r.m.transcribed(part, Transcript::Text("No, stop.".into()), r.at(6600));
    let cmds = r.commands();
    assert!(matches!(cmds.first(), Some(Command::Interrupt { turn: t }) if *t == turn), "{cmds:?}");
    assert!(matches!(cmds.get(1), Some(Command::Respond { said, .. }) if said[0].text == "No, stop."));
}

#[test]
fn no_transcript_within_the_window_resumes_and_a_late_one_with_words_still_stops() {
    let mut r = pausing(0);
    let turn = r.answering();
    let part = r.over_the_answer(turn, 3000, 3600);
    // The window counts from the end of the speech (3600 ms).
    assert_eq!(r.m.poll_timeout(), Some(r.at(5600)));
    r.advance(5599);
    assert!(r.commands().is_empty());
    r.advance(5600);
    assert_eq!(r.commands(), [Command::Resume { turn }]);
    assert_eq!(r.m.phase(), Phase::Speaking);
    // A slow STT finally hears words: she did mean it.
    r.m.transcribed(part, Transcript::Text("wait a second".into()), r.at(6000));
    let cmds = r.commands();
    assert!(matches!(cmds.first(), Some(Command::Interrupt { turn: t }) if *t == turn), "{cmds:?}");
    assert!(matches!(cmds.get(1), Some(Command::Respond { .. })), "{cmds:?}");
}

#[test]
fn a_failed_transcription_of_the_barge_in_stops_the_answer() {
    let mut r = pausing(0);
    let turn = r.answering();
    let part = r.over_the_answer(turn, 3000, 3600);
    r.m.transcribed(part, Transcript::Failed { notice: Some("I can't hear you.".into()) }, r.at(4200));
    let cmds = r.commands();
    assert!(matches!(cmds.first(), Some(Command::Interrupt { turn: t }) if *t == turn), "{cmds:?}");
    assert!(matches!(cmds.get(1), Some(Command::Say { reason: SayReason::Notice, .. })), "{cmds:?}");
}

#[test]
fn without_the_window_a_barge_in_stops_at_once() {
    // The default machine: no pause, the old behaviour.
    let mut r = Rig::new();
    let turn = r.answering();
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(3000), r.at(3060));
    r.advance(3500);
    assert_eq!(r.commands(), [Command::Interrupt { turn }]);
}

#[test]
fn a_pause_on_a_late_vad_edge_resumes_when_the_speech_was_short_after_all() {
    let mut r = pausing(0);
    let turn = r.answering();
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(3000), r.at(3060));
    r.advance(3500);
    assert_eq!(r.commands(), [Command::Pause { turn }]);
    // The VAD ends it late, and it really lasted 400 ms: too short, dropped, resumed.
    r.m.speech_ended(&alice, vec![], r.at(3400), r.at(3650));
    assert_eq!(r.commands(), [Command::Resume { turn }]);
    assert_eq!(r.m.phase(), Phase::Speaking);
}

#[test]
fn a_turn_that_ends_while_paused_releases_the_pause() {
    let mut r = pausing(0);
    let turn = r.answering();
    let part = r.over_the_answer(turn, 3000, 3600);
    // E.g. the answer went out as text and ended: the sink must not stay held.
    r.m.agent_done(turn, r.at(3900));
    assert_eq!(r.commands(), [Command::Resume { turn }]);
    r.m.transcribed(part, Transcript::Text("".into()), r.at(4000));
    r.advance(10_000);
    assert!(r.commands().is_empty(), "noise alone is not answered");
    assert_eq!(r.m.phase(), Phase::Listening);
}

fn away(check_in: u64, leave: u64) -> Rig {
    let cfg = AwayConfig {
        check_in_after: ms(check_in),
        leave_after: ms(leave),
        check_in: "Still there?".into(),
        goodbye: "Bye for now.".into(),
    };
    let mut r = Rig::new();
    r.m = TurnMachine::new(TurnConfig::default()).with_away(cfg);
    r
}

fn said(cmds: Vec<Command>) -> (TurnId, String, SayReason) {
    match cmds.as_slice() {
        [Command::Say { turn, text, reason, .. }] => (*turn, text.clone(), *reason),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_quiet_user_is_checked_on_then_the_agent_says_goodbye_and_leaves() {
    let mut r = away(10_000, 20_000);
    r.m.user_present(r.at(0));
    assert_eq!(r.m.poll_timeout(), Some(r.at(10_000)));
    r.advance(9_999);
    assert!(r.commands().is_empty());
    r.advance(10_000);
    let (check, text, reason) = said(r.commands());
    assert_eq!((text.as_str(), reason), ("Still there?", SayReason::CheckIn));
    assert_eq!(r.m.poll_timeout(), None, "no clock while the agent speaks");
    r.m.agent_audio_started(check);
    r.m.agent_done(check, r.at(11_000));
    // The goodbye comes after the second span of quiet, counted from the check-in's end.
    assert_eq!(r.m.poll_timeout(), Some(r.at(31_000)));
    r.advance(31_000);
    let (bye, text, reason) = said(r.commands());
    assert_eq!((text.as_str(), reason), ("Bye for now.", SayReason::Goodbye));
    r.m.agent_audio_started(bye);
    r.advance(60_000);
    assert!(r.commands().is_empty(), "leaves only once the goodbye was heard");
    r.m.agent_done(bye, r.at(32_000));
    assert_eq!(r.commands(), [Command::Leave]);
}

#[test]
fn speaking_resets_the_away_clock_and_cutting_the_goodbye_keeps_the_agent() {
    let mut r = away(10_000, 20_000);
    r.m.user_present(r.at(0));
    r.advance(10_000);
    let (check, ..) = said(r.commands());
    r.m.agent_done(check, r.at(11_000));
    // She answers: back to the start, a new check-in comes first.
    let alice = id("alice");
    let p = r.utterance(&alice, 12_000, 13_000);
    r.m.transcribed(p, Transcript::Text("yes, sorry".into()), r.at(13_600));
    let answer = match r.commands().as_slice() {
        [Command::Respond { turn, .. }] => *turn,
        other => panic!("{other:?}"),
    };
    r.m.agent_done(answer, r.at(15_000));
    assert_eq!(r.m.poll_timeout(), Some(r.at(25_000)));
    r.advance(25_000);
    let (check, _, reason) = said(r.commands());
    assert_eq!(reason, SayReason::CheckIn);
    r.m.agent_done(check, r.at(26_000));
    r.advance(46_000);
    let (bye, _, reason) = said(r.commands());
    assert_eq!(reason, SayReason::Goodbye);
    r.m.agent_audio_started(bye);
    // She speaks over the goodbye: she is back, the agent stays.
    r.m.speech_started(&alice, r.at(46_500), r.at(46_560));
    r.advance(47_000);
    assert_eq!(r.commands(), [Command::Interrupt { turn: bye }]);
    r.m.agent_done(bye, r.at(47_100));
    assert!(r.commands().is_empty(), "no leaving");
}

#[test]
fn the_user_away_policy_is_off_with_zero() {
    let mut r = away(0, 0);
    r.m.user_present(r.at(0));
    assert_eq!(r.m.poll_timeout(), None);
    r.advance(3_600_000);
    assert!(r.commands().is_empty());
    // Goodbye alone: leaves after that much quiet, with no check-in.
    let mut r = away(0, 30_000);
    r.m.user_present(r.at(0));
    r.advance(30_000);
    let (bye, _, reason) = said(r.commands());
    assert_eq!(reason, SayReason::Goodbye);
    r.m.agent_done(bye, r.at(31_000));
    assert_eq!(r.commands(), [Command::Leave]);
}
