//! End to end, false interruptions and a user who goes away, with the real Python client on a
//! real server, real Silero VAD and the fake provider: a 0.6 s non-word burst over the agent's
//! answer holds it, STT hears no words in it, and the agent plays on — the user hears the whole
//! answer, once; a user who says nothing more is checked on, then told goodbye, and the agent
//! leaves the room.

use std::time::Duration;

use voice_agent::session::metrics::metrics;
use voice_agent_tests::fake_openai::{Behavior, Endpoint};
use voice_agent_tests::livekit::voice::{self, VoiceOptions};
use voice_agent_tests::livekit::{client, wav};

const Q1: &str = "tell me a story";
const STORY: &str = "Once upon a time there was a fox. The fox lived in a deep forest. Every day it hunted for food. \
One day it met a wise old owl. The owl told it a secret. The secret changed everything.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noise_burst_during_the_answer_does_not_lose_the_answer() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let mut opts = VoiceOptions::default();
    // The burst is 0.6 s of sound; Silero finds its start a window or two late, so the bar for
    // "long enough to be a barge-in" is lowered to make sure it pauses the agent every time.
    opts.session.turn.interrupt_min_speech = Duration::from_millis(300);
    assert!(opts.session.turn.false_interruption.is_some(), "on by default");
    let rig = voice::start("false-interruption", opts).await;
    rig.fake.edit_replies(|r| {
        r.transcript = Q1.into();
        r.chat_chunks = STORY.split_inclusive(' ').map(String::from).collect();
    });
    rig.fake.set_default(Endpoint::Chat, Behavior::ChunkDelay(Duration::from_millis(50)));
    let q1 = rig.question("q1", "Tell me a story.");
    let noise = rig.dir.join("burst.wav");
    wav::burst(0.6, &noise);
    let sound = wav::active_span(&wav::read(&noise), 300.0).expect("the burst is audible");
    assert!((sound.1 - sound.0) as f64 / 48_000.0 > 0.5, "a 0.6 s burst: {sound:?}");
    let resumed_before = metrics().resumed.get();
    let interrupted_before = metrics().interruptions.get();
    let client =
        voice::converse_task(&rig.server, "noise-room", "carol", &[&q1, &noise], &["--barge-after", "1.5"]);
    // Once the story is being spoken, STT hears no words in what comes next (as Whisper hears
    // a cough: nothing).
    assert!(
        rig.fake
            .wait_for(|f| f.speech_inputs().iter().any(|s| s == "Once upon a time there was a fox."))
            .await,
        "the story was never spoken"
    );
    rig.fake.edit_replies(|r| r.transcript = String::new());
    let result = client.await.expect("client");
    println!("client: {result}");

    // The burst was heard (transcribed) and held the agent, which then resumed.
    assert!(
        rig.fake.requests_to(Endpoint::Transcriptions).len() >= 2,
        "the burst never reached STT: {result}"
    );
    assert!(metrics().resumed.get() > resumed_before, "the burst never paused the agent");
    assert_eq!(metrics().interruptions.get(), interrupted_before, "the burst stopped the agent");
    // The whole story was said and its caption ran to the end, not marked interrupted.
    let said = rig.fake.speech_inputs();
    assert!(said.iter().any(|s| s == "The secret changed everything."), "the end was never spoken: {said:?}");
    let texts = voice::texts(&result, "lk.transcription");
    let story = texts
        .iter()
        .find(|t| t["from"] != "carol" && t["text"].as_str().is_some_and(|s| s.starts_with("Once upon")))
        .unwrap_or_else(|| panic!("no caption of the story: {texts:?}"));
    assert_eq!(story["text"], STORY, "{story}");
    assert_eq!(story["status"], "complete", "{story}");
    assert!(story["attributes"]["lk.interrupted"].is_null(), "{story}");
    // The user heard it after the burst too: agent audio after the burst ended.
    let burst_end = result["questions"][1]["end"].as_f64().unwrap();
    let spurts = result["spurts"].as_array().unwrap();
    assert!(
        spurts.iter().any(|s| s[1].as_f64().unwrap() > burst_end + 0.5),
        "no agent audio after the burst: {result}"
    );
    // The burst was no question: one answer in all.
    assert_eq!(rig.fake.requests_to(Endpoint::Chat).len(), 1, "{result}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_goes_quiet_is_checked_on_then_the_agent_says_goodbye_and_leaves() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let mut opts = VoiceOptions::default();
    opts.session.away.check_in_after = Duration::from_secs(3);
    opts.session.away.leave_after = Duration::from_secs(4);
    let (check_in, goodbye) = (opts.session.away.check_in.clone(), opts.session.away.goodbye.clone());
    let rig = voice::start("user-away", opts).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "hello".into();
        r.chat_chunks = vec!["Hello there.".into()];
    });
    let q = rig.question("q", "Hello.");
    // After the answer the user stays silent (the client waits for 15 s of quiet, which comes
    // only after the agent has checked in and said goodbye).
    let client = voice::converse_task(&rig.server, "away-room", "dave", &[&q], &["--quiet-secs", "15"]);
    assert!(rig.fake.wait_for(|f| f.speech_inputs().contains(&goodbye)).await, "no goodbye was said");
    // The agent leaves while the user is still there: the job ends on its own.
    let server = rig.server.clone();
    let agents_left = tokio::task::spawn_blocking(move || {
        for _ in 0..60 {
            let room = client::run(&server, "list-participants", "away-room", &[]);
            let ids: Vec<String> = room["identities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(String::from))
                .collect();
            if ids.iter().any(|p| p == "dave") && !ids.iter().any(|p| p.starts_with("agent-")) {
                return Some(ids);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        None
    })
    .await
    .expect("poll");
    assert!(agents_left.is_some(), "the agent never left while the user was in the room");
    let result = client.await.expect("client");
    println!("client: {result}");
    let texts = voice::texts(&result, "lk.transcription");
    let said = |text: &str| texts.iter().any(|t| t["text"] == text && t["status"] == "complete");
    assert!(said("Hello there."), "{texts:?}");
    assert!(said(&check_in), "no check-in heard: {texts:?}");
    assert!(said(&goodbye), "no goodbye heard: {texts:?}");
    rig.stop().await;
}
