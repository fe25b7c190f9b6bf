//! The voice session as LiveKit front ends see it, with the real Python client on a real
//! server: the agent's `lk.agent.state` over a turn and a barge-in, a typed `lk.chat` message
//! answered by voice and caption, a 5 MB and a never-ending text stream and thousands of open
//! streams from another participant that change nothing (memory stays bounded), and two
//! agents in one room that never answer each other.

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::metrics::metrics;
use voice_agent_tests::fake_openai::{Behavior, Endpoint};
use voice_agent_tests::livekit::voice::{self, VoiceOptions};
use voice_agent_tests::livekit::{agent, client};

/// Text streams that never end, opened by a second participant of the typed-message test.
const FLOOD: usize = 2000;

/// The distinct successive values of `lk.agent.state` the client saw for `agent`.
fn states(result: &serde_json::Value, agent: &str) -> Vec<String> {
    let mut walk: Vec<String> = result["agents"][agent]
        .as_array()
        .map(|h| {
            h.iter().filter_map(|e| e["attributes"]["lk.agent.state"].as_str().map(String::from)).collect()
        })
        .unwrap_or_default();
    walk.dedup();
    walk
}

/// Whether `walk` contains `sub` in order (not necessarily adjacent).
fn in_order(walk: &[String], sub: &[&str]) -> bool {
    let mut it = walk.iter();
    sub.iter().all(|s| it.any(|w| w == s))
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_state_follows_a_turn_and_a_barge_in() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("frontend-state", VoiceOptions::default()).await;
    let story = "Once upon a time there was a fox. The fox lived in a deep forest. Every day it hunted. \
                 One day it met an owl. The owl knew a secret.";
    rig.fake.edit_replies(|r| {
        r.transcript = "tell me a story".into();
        r.chat_chunks = story.split_inclusive(' ').map(String::from).collect();
    });
    rig.fake.set_default(Endpoint::Chat, Behavior::ChunkDelay(Duration::from_millis(60)));
    let (q1, q2) = (rig.question("q1", "Tell me a story."), rig.question("q2", "Stop, that is enough."));
    let result =
        voice::converse_task(&rig.server, "state-room", "ann", &[&q1, &q2], &["--barge-after", "1.5"])
            .await
            .expect("client");
    println!("client: {result}");
    let agent = result["agent_identity"].as_str().unwrap();
    let walk = states(&result, agent);
    // A turn: listening → thinking → speaking; the barge-in: speaking → listening; then the
    // second answer, and listening at the end.
    assert!(
        in_order(
            &walk,
            &["listening", "thinking", "speaking", "listening", "thinking", "speaking", "listening"]
        ),
        "{walk:?}"
    );
    assert_eq!(walk.last().map(String::as_str), Some("listening"), "{walk:?}");
    // Speaking began no earlier than the audio did (the client hears after its jitter buffer).
    let history = result["agents"][agent].as_array().unwrap();
    let speaking_at = history
        .iter()
        .find(|e| e["attributes"]["lk.agent.state"] == "speaking")
        .and_then(|e| e["t"].as_f64())
        .unwrap();
    let first_answer = result["questions"][0]["answer_start"].as_f64().expect("first answer heard");
    assert!(
        speaking_at > result["questions"][0]["end"].as_f64().unwrap(),
        "speaking before the question ended"
    );
    assert!(
        speaking_at < first_answer + 2.0,
        "speaking shown long after the audio: {speaking_at} vs {first_answer}"
    );
    assert!(rig.fake.wait_idle().await, "provider responses left running");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_message_is_answered_by_voice_and_huge_or_endless_streams_change_nothing() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("frontend-typed", VoiceOptions::default()).await;
    const ANSWER: &str = "Here is what I think about that.";
    rig.fake.edit_replies(|r| {
        r.transcript = "what do you think".into();
        r.chat_chunks = vec![ANSWER.into()];
    });
    let q = rig.question("q", "What do you think?");
    let too_many = || metrics().streams_dropped.get_or_create(&[("reason", "too_many")]).get();
    let too_many_before = too_many();
    let rss_before = rss_kib();
    let result = voice::converse_task(
        &rig.server,
        "typed-room",
        "ben",
        &[&q],
        &[
            "--type",
            "and what about typing",
            "--big-text-bytes",
            "5000000",
            "--never-ending",
            "--open-streams",
            &FLOOD.to_string(),
        ],
    )
    .await
    .expect("client");
    let rss_after = rss_kib();
    println!("client: {result}\nRSS {rss_before} → {rss_after} KiB");
    let asked = result["questions"].as_array().unwrap();
    assert_eq!(asked.len(), 2, "{result}");
    // Both answered with audio: the spoken question, then the typed one.
    for q in asked {
        assert!(q["answer_start"].as_f64().is_some(), "no spoken answer to {q}");
    }
    // The typed message reached the LLM as the user's words, with no transcription.
    let chats = rig.fake.requests_to(Endpoint::Chat);
    let last_user = |i: usize| {
        chats[i].json.as_ref().unwrap()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str().map(String::from))
            .unwrap_or_default()
    };
    // The huge message was answered too (cut to the transcript cap, with a notice).
    let typed: Vec<String> = (0..chats.len()).map(last_user).collect();
    assert!(typed.iter().any(|t| t == "and what about typing"), "{typed:?}");
    // (It may be answered together with the spoken question, as one user turn.)
    let ys = |t: &String| t.chars().take_while(|c| *c == 'y').count();
    assert!(typed.iter().any(|t| ys(t) > 1000 && ys(t) <= 2000), "{typed:?}");
    assert!(
        !typed.iter().any(|t| t.contains("never ends")),
        "an unfinished message is no message: {typed:?}"
    );
    assert_eq!(rig.fake.requests_to(Endpoint::Transcriptions).len(), 1, "only the spoken question");
    let captions: Vec<&str> = voice::texts(&result, "lk.transcription")
        .iter()
        .filter(|t| t["from"] == result["agent_identity"])
        .filter_map(|t| t["text"].as_str())
        .collect();
    assert!(captions.iter().filter(|c| **c == ANSWER).count() >= 2, "captions of both answers: {captions:?}");
    let notices: Vec<&str> =
        voice::texts(&result, "lk.chat").iter().filter_map(|t| t["text"].as_str()).collect();
    assert!(notices.iter().any(|n| n.contains("too long")), "{notices:?}");
    // Thousands of streams that never end, from another participant: a few are held (until
    // their timeout, which frees room for a few more), the rest refused at their header (the
    // very first may come before the agent knows the sender, and are dropped unseen); nobody's
    // answers changed.
    assert_eq!(result["flood"]["streams"], FLOOD, "{result}");
    let refused = too_many() - too_many_before;
    assert!(refused >= FLOOD as u64 / 2, "only {refused} of {FLOOD} open streams refused");
    // Memory: a 5 MB stream is not held (it is cut at 64 KiB), endless ones time out or are
    // refused.
    let grown = rss_after.saturating_sub(rss_before);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
    assert!(rig.fake.wait_idle().await, "provider responses left running");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_in_one_room_never_answer_each_other() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("two-agents", VoiceOptions::default()).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "hello both of you".into();
        r.chat_chunks = vec!["Hello! Nice to meet you.".into()];
    });
    // Two more workers with names, dispatched explicitly by the room's creation (the rig's own
    // unnamed worker gets no job there: a room created with dispatches has no automatic one).
    let cfg = voice::providers_config(&rig.fake, None);
    let mut workers = Vec::new();
    for name in ["alpha", "beta"] {
        let (handler, _) = voice::handler(
            &cfg,
            VoiceOptions::default().session,
            &Default::default(),
            VoiceOptions::default().segmenter,
            None,
        );
        let mut settings = agent::settings(&rig.server.url(), 4);
        settings.agent_name = name.into();
        let worker = agent::spawn(settings, Arc::new(handler));
        let status = worker.status.clone();
        agent::wait_until("named worker registered", Duration::from_secs(15), || status.is_registered())
            .await;
        workers.push(worker);
    }
    let server = rig.server.clone();
    tokio::task::spawn_blocking(move || {
        client::run(&server, "create-room", "duo-room", &["--agents", "alpha,beta"])
    })
    .await
    .unwrap();
    let server = rig.server.clone();
    let agents = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        for _ in 0..200 {
            found = client::participants(&server, "duo-room");
            if found.iter().filter(|i| i.starts_with("agent-")).count() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        found
    })
    .await
    .unwrap();
    assert_eq!(agents.iter().filter(|i| i.starts_with("agent-")).count(), 2, "{agents:?}");

    // The agents greet nobody and ignore each other; a user asks one question.
    let q = rig.question("q", "Hello both of you.");
    let server = rig.server.clone();
    let q2 = q.clone();
    let result = tokio::task::spawn_blocking(move || {
        client::run(
            &server,
            "converse",
            "duo-room",
            &["--identity", "cat", "--say", q2.to_str().unwrap(), "--tail", "6", "--quiet-secs", "2.5"],
        )
    })
    .await
    .unwrap();
    println!("client: {result}");
    assert!(result["questions"][0]["answer_start"].as_f64().is_some(), "nobody answered: {result}");
    // Each agent transcribed the user once and answered once: neither heard the other.
    assert_eq!(rig.fake.requests_to(Endpoint::Transcriptions).len(), 2, "transcriptions");
    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 2, "one answer per agent");
    for c in &chats {
        let users: Vec<&str> = c.json.as_ref().unwrap()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["content"].as_str())
            .collect();
        assert_eq!(users, ["hello both of you"], "an agent took another agent's words as a question");
    }
    // Front ends can tell them apart by name.
    let names: Vec<String> = result["agents"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|h| h.as_array()?.last()?["attributes"]["lk.agent.name"].as_str().map(String::from))
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["alpha", "beta"]);
    for w in workers {
        w.stop().await;
    }
    rig.stop().await;
}
