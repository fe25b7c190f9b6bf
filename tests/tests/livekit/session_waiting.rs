//! Never silent while waiting, and a history that stays a conversation, in a real room (a real
//! livekit-server, our worker in-process, the fake provider, a simulated user on our own
//! participant): a slow LLM gets the filler before its answer; a failed turn gets the apology
//! and its question is left out of the next request; and a chaos run — the fake LLM and TTS
//! failing, hanging, rate-limiting or slow at random — never leaves a question without audio or
//! text. Timings are printed (`--nocapture`).

use std::time::Duration;

use voice_agent::clock;
use voice_agent::core::jitter::Jitter;
use voice_agent::session::metrics::metrics;
use voice_agent_tests::fake_openai::{Behavior, Endpoint, RetryHint};
use voice_agent_tests::livekit::voice::{self, VoiceOptions, VoiceRig};
use voice_agent_tests::load::{Question, SimUser};

const FILLER: &str = "One moment.";

/// A rig whose TTS answers every text with a short clip, once the filler is rendered.
async fn rig(name: &str, opts: VoiceOptions) -> VoiceRig {
    let rig = voice::start(name, opts).await;
    let clip = voice::speech_pcm("Okay then.", 24_000);
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon.".into()];
        r.speech_pcm = clip;
    });
    rig
}

/// Joins a simulated user and waits until the session has rendered its filler.
async fn user(rig: &VoiceRig, room: &str) -> SimUser {
    let user = SimUser::join(&rig.server.url(), room, "sim", Duration::from_secs(30)).await.expect("joined");
    let rendered = rig.fake.wait_for(|f| {
        f.requests_to(Endpoint::Speech).iter().any(|r| r.json.as_ref().is_some_and(|j| j["input"] == FILLER))
    });
    assert!(rendered.await, "the filler was never rendered");
    user
}

/// Outcomes of the `voice_turns` counter but the greeting's.
const OUTCOMES: [&str; 6] = ["answered", "interrupted", "apology", "text_only", "limited", "notice"];

/// This process's finished turns so far, per outcome of [`OUTCOMES`].
fn turns_ended() -> Vec<u64> {
    OUTCOMES.iter().map(|o| metrics().turns.get_or_create(&[("outcome", *o)]).get()).collect()
}

/// Waits (up to `limit`) for a turn to end after `before`; its outcome, if one did.
async fn turn_outcome(before: &[u64], limit: Duration) -> Option<&'static str> {
    let give_up = clock::now() + limit;
    while clock::now() < give_up {
        let now = turns_ended();
        if let Some(i) = (0..OUTCOMES.len()).find(|&i| now[i] > before[i]) {
            return Some(OUTCOMES[i]);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn last_chat_messages(rig: &VoiceRig) -> Vec<(String, String)> {
    let chats = rig.fake.requests_to(Endpoint::Chat);
    let last = chats.last().and_then(|r| r.json.clone()).expect("a chat request");
    last["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (m["role"].as_str().unwrap_or("").to_owned(), m["content"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_llm_gets_the_filler_and_then_its_answer() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = rig("filler", VoiceOptions::default()).await;
    let mut user = user(&rig, "filler-room").await;
    // The LLM's response starts 5 s after it is asked (asked only after the speech ended).
    rig.fake.set_default(Endpoint::Chat, Behavior::SlowFirstByte(Duration::from_secs(5)));
    let q = Question::render("What time is it?");
    let asked = user.ask(&q, Duration::from_secs(20)).await.expect("room open");
    let end = asked.speech_end;
    // Let the answer come in full.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spurts: Vec<(f64, f64)> = user
        .spurts()
        .iter()
        .filter(|(a, _)| *a > end)
        .map(|(a, b)| (a.duration_since(end).as_secs_f64(), b.duration_since(end).as_secs_f64()))
        .collect();
    println!("agent talk spurts after the question (s from its end): {spurts:?}");
    let llm_earliest = 5.0;
    let before: Vec<_> = spurts.iter().filter(|(a, _)| *a < llm_earliest).collect();
    assert_eq!(before.len(), 1, "exactly the filler before the LLM could answer: {spurts:?}");
    assert!(spurts.iter().any(|(a, _)| *a >= llm_earliest), "the answer followed: {spurts:?}");
    println!("filler heard {:.2} s after the question ended", before[0].0);
    // One LLM request: the filler is not a turn of its own, nor an answer.
    assert_eq!(rig.fake.requests_to(Endpoint::Chat).len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_is_apologised_for_and_left_out_of_the_next_request() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = rig("apology", VoiceOptions::default()).await;
    let mut user = user(&rig, "apology-room").await;
    let q = Question::render("What time is it?");

    rig.fake.edit_replies(|r| r.transcript = "how far away is the moon".into());
    // The LLM fails (and its one retry too).
    rig.fake.push_n(Endpoint::Chat, Behavior::Status(500), 2);
    let failed = user.ask(&q, Duration::from_secs(20)).await.expect("room open");
    assert!(failed.first_audio.is_some(), "the apology is heard");
    tokio::time::sleep(Duration::from_secs(1)).await;

    rig.fake.edit_replies(|r| r.transcript = "what is the capital of france".into());
    let answered = user.ask(&q, Duration::from_secs(20)).await.expect("room open");
    assert!(answered.first_audio.is_some(), "the second question is answered");
    let messages = last_chat_messages(&rig);
    println!("second request: {messages:?}");
    let users: Vec<&str> = messages.iter().filter(|(r, _)| r == "user").map(|(_, c)| c.as_str()).collect();
    assert_eq!(users, ["what is the capital of france"], "the failed question is not asked again");
    assert!(!messages.iter().any(|(_, c)| c.contains("moon")), "{messages:?}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_provider_chaos_every_question_gets_audio_or_text() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let opts = VoiceOptions { provider_timeout: Some(Duration::from_secs(3)), ..VoiceOptions::default() };
    let rig = rig("chaos", opts).await;
    let mut user = user(&rig, "chaos-room").await;
    let q = Question::render("What time is it?");
    let mut jitter = Jitter::new(17);
    let chat = [
        ("normal", vec![]),
        ("fails", vec![Behavior::Status(500), Behavior::Status(503)]),
        ("hangs", vec![Behavior::Hang, Behavior::Hang]),
        ("429", vec![Behavior::RateLimited(RetryHint::Seconds(1))]),
        ("slow", vec![Behavior::SlowFirstByte(Duration::from_secs(4))]),
    ];
    let speech = [
        ("normal", vec![]),
        ("fails", vec![Behavior::Status(500), Behavior::Status(500)]),
        ("hangs", vec![Behavior::Hang, Behavior::Hang]),
    ];
    let (mut within_5s, mut silent, mut outcomes) = (0, 0, Vec::new());
    let questions = 20;
    for i in 0..questions {
        let (cname, cplan) = &chat[(jitter.next_u64() % chat.len() as u64) as usize];
        let (sname, splan) = &speech[(jitter.next_u64() % speech.len() as u64) as usize];
        rig.fake.heal();
        for b in cplan {
            rig.fake.push(Endpoint::Chat, b.clone());
        }
        for b in splan {
            rig.fake.push(Endpoint::Speech, b.clone());
        }
        let before = turns_ended();
        let asked = user.ask(&q, Duration::from_secs(20)).await.expect("room open");
        let sign = asked.first_sign();
        // The turn runs to its end (a hanging LLM to its apology) before the next question,
        // which would otherwise cut it short.
        let outcome = turn_outcome(&before, Duration::from_secs(30)).await.unwrap_or("still running");
        match sign {
            Some(d) if d <= Duration::from_secs(5) => within_5s += 1,
            Some(_) => {}
            None => silent += 1,
        }
        outcomes.push(format!(
            "{i}: llm {cname}, tts {sname}: {}, {outcome}",
            sign.map_or("nothing".into(), |d| format!("{:.2} s", d.as_secs_f64()))
        ));
        // Let the end of the reply play out before the next question.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for o in &outcomes {
        println!("{o}");
    }
    println!("{questions} questions: {within_5s} got audio or text within 5 s, {silent} never did");
    assert_eq!(silent, 0, "silent turns: {outcomes:#?}");
    assert_eq!(within_5s, questions, "a question waited over 5 s for any sign of the agent: {outcomes:#?}");
    rig.stop().await;
}
