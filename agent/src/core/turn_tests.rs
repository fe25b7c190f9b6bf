//! Unit tests of the turn machine, driven by a manual clock.

use super::*;
use crate::clock;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Rig {
    m: TurnMachine,
    t0: Instant,
}

impl Rig {
    /// The machine without preemptive replies (`turn_preempt_tests.rs` has those).
    fn new() -> Self {
        Self::with(TurnConfig { preemptive: false, ..TurnConfig::default() })
    }
    fn with(cfg: TurnConfig) -> Self {
        Self { m: TurnMachine::new(cfg), t0: clock::now() }
    }
    fn at(&self, n: u64) -> Instant {
        self.t0 + ms(n)
    }
    fn commands(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.m.poll_command()).collect()
    }
    /// Runs the timer up to `n` ms, like the session's loop would.
    fn advance(&mut self, n: u64) {
        while let Some(t) = self.m.poll_timeout() {
            if t > self.at(n) {
                break;
            }
            self.m.handle_timeout(t);
        }
    }
    fn utterance(&mut self, who: &Arc<str>, from: u64, to: u64) -> PartId {
        self.m.speech_started(who, self.at(from), self.at(from + 60));
        self.m.speech_ended(who, vec![0; 16], self.at(to), self.at(to + 550));
        let cmds = self.commands();
        match cmds.last() {
            Some(Command::Transcribe { part, .. }) => *part,
            other => panic!("no transcription requested: {other:?} ({cmds:?})"),
        }
    }
}

fn id(s: &str) -> Arc<str> {
    Arc::from(s)
}

#[test]
fn question_then_answer_after_the_endpointing_delay() {
    let mut r = Rig::new();
    let alice = id("alice");
    assert_eq!(r.m.phase(), Phase::Listening);
    r.m.speech_started(&alice, r.at(0), r.at(60));
    assert_eq!(r.m.phase(), Phase::UserSpeaking);
    assert_eq!(r.m.poll_timeout(), None);
    // The VAD reports the end 550 ms after the real end (its silence wait).
    r.m.speech_ended(&alice, vec![1, 2, 3], r.at(1000), r.at(1550));
    let part = match r.commands().as_slice() {
        [Command::Transcribe { part, who, pcm }] => {
            assert_eq!((who.as_ref(), pcm.as_slice()), ("alice", &[1, 2, 3][..]));
            *part
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(r.m.phase(), Phase::Endpointing);
    // Not answered before the transcript is in, even though the delay has passed.
    assert_eq!(r.m.poll_timeout(), None);
    r.m.transcribed(part, Transcript::Text(" What time is it? ".into()), r.at(1600));
    // The delay counted from the real end of speech has passed: answer at once.
    let cmds = r.commands();
    assert_eq!(
        cmds,
        [Command::Respond {
            turn: 2,
            said: vec![Said { who: alice.clone(), text: "What time is it?".into() }],
            speech_ended: r.at(1000),
        }]
    );
    assert_eq!(r.m.phase(), Phase::Thinking);
    r.m.agent_audio_started(2);
    assert_eq!(r.m.phase(), Phase::Speaking);
    r.m.agent_done(2, r.at(5000));
    assert_eq!(r.m.phase(), Phase::Listening);
    assert!(r.commands().is_empty());
}

#[test]
fn a_fast_transcript_waits_for_the_delay() {
    let mut r = Rig::new();
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(0), r.at(60));
    // A VAD with a short silence wait: the end is known 100 ms after it happened.
    r.m.speech_ended(&alice, vec![], r.at(1000), r.at(1100));
    let part = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(part, Transcript::Text("hi".into()), r.at(1150));
    assert!(r.commands().is_empty());
    assert_eq!(r.m.poll_timeout(), Some(r.at(1500)));
    r.advance(1499);
    assert!(r.commands().is_empty());
    r.advance(1500);
    assert!(matches!(r.commands().as_slice(), [Command::Respond { .. }]));
}

#[test]
fn speaking_again_within_the_delay_continues_the_question() {
    // A VAD with a short silence wait, so she can resume before the answer is due.
    let mut r = Rig::new();
    let alice = id("alice");
    r.m.speech_started(&alice, r.at(0), r.at(60));
    r.m.speech_ended(&alice, vec![], r.at(1000), r.at(1100));
    let p1 = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(p1, Transcript::Text("What is".into()), r.at(1200));
    r.m.speech_started(&alice, r.at(1300), r.at(1360));
    r.advance(3000);
    assert!(r.commands().is_empty(), "no answer while she speaks");
    r.m.speech_ended(&alice, vec![], r.at(2000), r.at(2100));
    let p2 = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(p2, Transcript::Text("the time?".into()), r.at(2200));
    r.advance(2499);
    assert!(r.commands().is_empty());
    r.advance(2500);
    match r.commands().as_slice() {
        [Command::Respond { said, speech_ended, .. }] => {
            let texts: Vec<_> = said.iter().map(|s| s.text.as_str()).collect();
            assert_eq!(texts, ["What is", "the time?"]);
            assert_eq!(*speech_ended, r.at(2000));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn barge_in_after_the_minimum_speech_interrupts() {
    let mut r = Rig::new();
    let alice = id("alice");
    let p = r.utterance(&alice, 0, 1000);
    r.m.transcribed(p, Transcript::Text("Tell me a story".into()), r.at(1600));
    let turn = match r.commands().as_slice() {
        [Command::Respond { turn, .. }] => *turn,
        other => panic!("{other:?}"),
    };
    r.m.agent_audio_started(turn);
    // She speaks again during the answer.
    r.m.speech_started(&alice, r.at(3000), r.at(3060));
    assert_eq!(r.m.poll_timeout(), Some(r.at(3500)));
    r.advance(3499);
    assert!(r.commands().is_empty());
    r.advance(3500);
    assert_eq!(r.commands(), [Command::Interrupt { turn }]);
    assert_eq!(r.m.interruptions(), 1);
    assert_eq!(r.m.phase(), Phase::UserSpeaking);
    // The late report of the old turn changes nothing.
    r.m.agent_audio_started(turn);
    r.m.agent_done(turn, r.at(3600));
    assert_eq!(r.m.phase(), Phase::UserSpeaking);
    // Her new question is answered next.
    r.m.speech_ended(&alice, vec![], r.at(4000), r.at(4550));
    let p2 = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(p2, Transcript::Text("Actually, a joke.".into()), r.at(4600));
    match r.commands().as_slice() {
        [Command::Respond { turn: t2, said, .. }] => {
            assert_ne!(*t2, turn);
            assert_eq!(said[0].text, "Actually, a joke.");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn barge_in_while_thinking_and_on_a_late_timer() {
    let mut r = Rig::new();
    let alice = id("alice");
    let p = r.utterance(&alice, 0, 1000);
    r.m.transcribed(p, Transcript::Text("hello".into()), r.at(1600));
    let turn = match r.commands().as_slice() {
        [Command::Respond { turn, .. }] => *turn,
        other => panic!("{other:?}"),
    };
    assert_eq!(r.m.phase(), Phase::Thinking);
    // The timer never ran, but the utterance itself proves it was long enough.
    r.m.speech_started(&alice, r.at(2000), r.at(2060));
    r.m.speech_ended(&alice, vec![], r.at(2700), r.at(3250));
    match r.commands().as_slice() {
        [Command::Interrupt { turn: t }, Command::Transcribe { .. }] => assert_eq!(*t, turn),
        other => panic!("{other:?}"),
    }
}

#[test]
fn short_noise_does_not_interrupt_and_is_dropped() {
    let mut r = Rig::new();
    let alice = id("alice");
    let p = r.utterance(&alice, 0, 1000);
    r.m.transcribed(p, Transcript::Text("hello".into()), r.at(1600));
    let turn = match r.commands().as_slice() {
        [Command::Respond { turn, .. }] => *turn,
        other => panic!("{other:?}"),
    };
    r.m.agent_audio_started(turn);
    r.m.speech_started(&alice, r.at(2000), r.at(2060));
    r.advance(2300);
    r.m.speech_ended(&alice, vec![], r.at(2300), r.at(2850));
    r.advance(10_000);
    assert!(r.commands().is_empty());
    assert_eq!(r.m.phase(), Phase::Speaking);
    assert_eq!(r.m.interruptions(), 0);
    r.m.agent_done(turn, r.at(9000));
    assert_eq!(r.m.phase(), Phase::Listening);
}

#[test]
fn speech_that_outlives_the_answer_is_a_question() {
    let mut r = Rig::new();
    let alice = id("alice");
    let p = r.utterance(&alice, 0, 1000);
    r.m.transcribed(p, Transcript::Text("hello".into()), r.at(1600));
    let turn = match r.commands().as_slice() {
        [Command::Respond { turn, .. }] => *turn,
        other => panic!("{other:?}"),
    };
    r.m.agent_audio_started(turn);
    r.m.speech_started(&alice, r.at(3000), r.at(3060));
    r.m.agent_done(turn, r.at(3200));
    r.advance(5000);
    assert!(r.commands().is_empty(), "no interruption after the turn ended");
    r.m.speech_ended(&alice, vec![], r.at(3300), r.at(3850));
    assert!(matches!(r.commands().as_slice(), [Command::Transcribe { .. }]));
}

#[test]
fn noise_transcripts_are_ignored_and_stt_failure_is_spoken() {
    let mut r = Rig::new();
    let alice = id("alice");
    let p = r.utterance(&alice, 0, 1000);
    r.m.transcribed(p, Transcript::Text("[BLANK_AUDIO]".into()), r.at(1600));
    assert!(r.commands().is_empty());
    assert_eq!(r.m.phase(), Phase::Listening);

    let p = r.utterance(&alice, 2000, 3000);
    let notice = "I can't hear you right now.".to_owned();
    r.m.transcribed(p, Transcript::Failed { notice: Some(notice.clone()) }, r.at(3600));
    match r.commands().as_slice() {
        [Command::Say { text, reason, who, speech_ended, .. }] => {
            assert_eq!(text, &notice);
            assert_eq!(*reason, SayReason::Notice);
            assert_eq!(who.as_deref(), Some("alice"), "the notice is for the one who spoke");
            assert_eq!(*speech_ended, Some(r.at(3000)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn overlapping_speakers_are_answered_together_when_all_are_silent() {
    let mut r = Rig::new();
    let (alice, bob) = (id("alice"), id("bob"));
    r.m.speech_started(&alice, r.at(0), r.at(60));
    r.m.speech_started(&bob, r.at(500), r.at(560));
    r.m.speech_ended(&alice, vec![], r.at(1000), r.at(1550));
    let pa = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(pa, Transcript::Text("Is it raining?".into()), r.at(1600));
    r.advance(4000);
    assert!(r.commands().is_empty(), "bob is still speaking");
    r.m.speech_ended(&bob, vec![], r.at(2000), r.at(2550));
    let pb = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(pb, Transcript::Text("And is it cold?".into()), r.at(2600));
    match r.commands().as_slice() {
        [Command::Respond { said, speech_ended, .. }] => {
            let who: Vec<_> = said.iter().map(|s| s.who.as_ref()).collect();
            assert_eq!(who, ["alice", "bob"]);
            assert_eq!(*speech_ended, r.at(2000));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn anyone_can_interrupt_and_leaving_unblocks_the_answer() {
    let mut r = Rig::new();
    let (alice, bob) = (id("alice"), id("bob"));
    let p = r.utterance(&alice, 0, 1000);
    r.m.transcribed(p, Transcript::Text("hello".into()), r.at(1600));
    let turn = match r.commands().as_slice() {
        [Command::Respond { turn, .. }] => *turn,
        other => panic!("{other:?}"),
    };
    r.m.speech_started(&bob, r.at(2000), r.at(2060));
    r.advance(2500);
    assert_eq!(r.commands(), [Command::Interrupt { turn }]);
    // Alice asks something while bob is still "speaking"; bob then leaves mid-speech.
    let p = r.utterance(&alice, 2600, 3000);
    r.m.transcribed(p, Transcript::Text("still there?".into()), r.at(3600));
    assert!(r.commands().is_empty());
    r.m.participant_left(&bob, r.at(3700));
    assert!(matches!(r.commands().as_slice(), [Command::Respond { .. }]));
}

#[test]
fn greeting_only_in_a_quiet_room_and_it_can_be_interrupted() {
    let mut r = Rig::new();
    let alice = id("alice");
    let turn = r.m.say("Hello!", SayReason::Greeting, None).expect("quiet room");
    assert_eq!(
        r.commands(),
        [Command::Say {
            turn,
            text: "Hello!".into(),
            reason: SayReason::Greeting,
            who: None,
            speech_ended: None
        }]
    );
    assert_eq!(r.m.say("again", SayReason::Greeting, None), None, "the agent is already speaking");
    r.m.speech_started(&alice, r.at(0), r.at(60));
    r.advance(500);
    assert_eq!(r.commands(), [Command::Interrupt { turn }]);
    assert_eq!(r.m.say("Hello!", SayReason::Greeting, None), None, "someone is speaking");
}

#[test]
fn waiting_utterances_are_bounded() {
    let mut r = Rig::new();
    let alice = id("alice");
    let mut parts = Vec::new();
    for i in 0..(MAX_PARTS as u64 + 3) {
        parts.push(r.utterance(&alice, i * 1000, i * 1000 + 500));
    }
    // The three oldest were dropped: their results are ignored, the rest answer.
    for (i, p) in parts.iter().enumerate() {
        r.m.transcribed(*p, Transcript::Text(format!("part {i}")), r.at(20_000));
    }
    match r.commands().as_slice() {
        [Command::Respond { said, .. }] => {
            assert_eq!(said.len(), MAX_PARTS);
            assert_eq!(said[0].text, "part 3");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn typed_text_is_answered_at_once_and_interrupts_the_agent() {
    let mut r = Rig::new();
    let ann: Arc<str> = Arc::from("ann");
    r.m.typed(&ann, "hello there", r.at(0));
    let cmds = r.commands();
    let turn = match cmds.as_slice() {
        [Command::Respond { turn, said, .. }] => {
            assert_eq!(said, &[Said { who: ann.clone(), text: "hello there".into() }]);
            *turn
        }
        other => panic!("typed text not answered at once: {other:?}"),
    };
    r.m.agent_audio_started(turn);
    assert_eq!(r.m.phase(), Phase::Speaking);
    // A second message while the agent speaks stops it and is answered next.
    r.m.typed(&ann, "stop, another question", r.at(800));
    let cmds = r.commands();
    assert!(matches!(cmds.first(), Some(Command::Interrupt { turn: t }) if *t == turn), "{cmds:?}");
    assert!(
        matches!(cmds.get(1), Some(Command::Respond { said, .. }) if said[0].text == "stop, another question")
    );
    assert_eq!(r.m.interruptions(), 1);
    // Blank text is no message at all.
    let before = r.m.phase();
    r.m.typed(&ann, "   ", r.at(900));
    assert!(r.commands().is_empty());
    assert_eq!(r.m.phase(), before);
}

#[test]
fn typed_text_waits_while_someone_speaks() {
    let mut r = Rig::new();
    let (ann, bob): (Arc<str>, Arc<str>) = (Arc::from("ann"), Arc::from("bob"));
    r.m.speech_started(&bob, r.at(0), r.at(60));
    r.m.typed(&ann, "a typed question", r.at(100));
    assert!(r.commands().is_empty(), "never talks over a speaker");
    r.m.speech_ended(&bob, vec![0; 16], r.at(1000), r.at(1450));
    let part = match r.commands().as_slice() {
        [Command::Transcribe { part, .. }] => *part,
        other => panic!("{other:?}"),
    };
    r.m.transcribed(part, Transcript::Text("spoken words".into()), r.at(1500));
    r.advance(1500);
    let cmds = r.commands();
    let Some(Command::Respond { said, .. }) = cmds.first() else { panic!("{cmds:?}") };
    let texts: Vec<&str> = said.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, ["a typed question", "spoken words"]);
}
#[path = "turn_barge_tests.rs"]
mod barge;
#[path = "turn_preempt_tests.rs"]
mod preempt;
#[path = "turn_smart_tests.rs"]
mod smart;
