//! The load generator's simulated users (`voice_agent_tests::load`, on the project's own Rust
//! participant) against the in-process voice worker in a real livekit-server: several users in
//! rooms of their own each ask pre-encoded questions and hear the agent answer every one; the
//! provider saw each question, and the timings are in order.

use std::sync::Arc;
use std::time::Duration;

use voice_agent::clock;
use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};
use voice_agent_tests::load::{Question, UserPlan, run_user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_users_each_hear_every_question_answered() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("load-users", VoiceOptions::default()).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon.".into()];
    });
    let questions = Arc::new(vec![Question::render("What time is it?"), Question::render("How are you?")]);
    assert!(
        questions.iter().all(|q| q.speech_samples > 0 && q.frames.len() * 960 >= q.speech_samples as usize)
    );
    let until = clock::now() + Duration::from_secs(25);
    let users: Vec<_> = (0..3)
        .map(|i| {
            tokio::spawn(run_user(UserPlan {
                url: rig.server.url(),
                room: format!("sim-{i}"),
                identity: format!("sim-user-{i}"),
                questions: questions.clone(),
                first_question: i,
                think: (Duration::from_millis(500), Duration::from_secs(1)),
                until,
                agent_timeout: Duration::from_secs(30),
                answer_timeout: Duration::from_secs(15),
            }))
        })
        .collect();
    let mut asked = 0;
    for u in users {
        let report = u.await.expect("user task");
        assert_eq!(report.error, None, "{}", report.room);
        let (joined, ready) = (report.joined.expect("joined"), report.agent_ready.expect("agent arrived"));
        assert!(ready >= joined);
        assert!(report.asked.len() >= 2, "{}: only {} questions asked", report.room, report.asked.len());
        for a in &report.asked {
            let heard =
                a.first_audio.unwrap_or_else(|| panic!("{}: a question went unanswered", report.room));
            assert!(heard > a.speech_end, "agent audio counted before the question ended");
        }
        asked += report.asked.len();
    }
    // Every question reached the provider as a transcription.
    assert!(rig.fake.requests_to(Endpoint::Transcriptions).len() >= asked);
    rig.stop().await;
}
