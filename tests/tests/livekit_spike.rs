//! temporary spike
use std::time::Duration;
use voice_agent::clock;
use voice_agent::livekit::echo::EchoHandler;
use voice_agent::livekit::job::{JobContext, JobHandler, JobInfo};
use voice_agent::livekit::room::{self, JoinOptions};
use voice_agent::livekit::token;
use voice_agent_tests::livekit::{API_KEY, API_SECRET, LiveKitServer, client, wav};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spike_echo_with_direct_join() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("voice_agent=debug,str0m=info")
        .with_test_writer()
        .try_init();
    let server = LiveKitServer::start();
    let dir = std::env::temp_dir().join("va-spike");
    std::fs::create_dir_all(&dir).unwrap();
    let speech = dir.join("speech.wav");
    wav::speech("Hello there. This is a test of the echo agent.", &speech);
    client::create_room(&server, "spike");
    let tok =
        token::room_token(API_KEY, API_SECRET, "spike", "agent-spike", Duration::from_secs(600)).unwrap();
    let room = room::join(JoinOptions::new(&server.url(), &tok, clock::now())).await.expect("join");
    let ctx =
        JobContext { job: JobInfo::default(), room, cancel: Default::default(), assigned_at: clock::now() };
    let cancel = ctx.cancel.clone();
    let h = tokio::spawn(EchoHandler::new(Duration::from_millis(500)).run(ctx));
    let out = dir.join("out.wav");
    let (s2, sp, o2) = (server.url(), speech.clone(), out.clone());
    let _ = s2;
    let res = tokio::task::spawn_blocking(move || {
        let server = server;
        let r = client::echo(&server, "spike", &sp, &o2, &["--two-pc", "--send-data", "ping"]);
        (r, server)
    })
    .await
    .unwrap();
    println!("client: {}", res.0);
    cancel.cancel();
    let _ = h.await;
    let sent = wav::read(&speech);
    let got = wav::read(&out);
    println!("{:?}", wav::compare(&sent, &got, 300.0));
    println!("{}", res.1.log_tail(5));
}
