//! Voice-session benchmark against a real livekit-server, real Python clients and the fake
//! providers: end of the user's speech → first agent audio, as the client measures it (last
//! question frame sent → first loud agent frame received), p50/p95 over the turns; with
//! instant providers and with LLM TTFT 300 ms / TTS TTFB 150 ms; then this process's CPU and
//! RSS with several concurrent conversations.
//!
//!     cargo run --release -p voice-agent-tests --bin bench-session [-- TURNS ROOMS...]

use std::sync::Arc;
use std::time::Duration;

use voice_agent::clock;
use voice_agent::livekit::worker::load::process_cpu_time;
use voice_agent_tests::fake_openai::{Behavior, Endpoint};
use voice_agent_tests::livekit::voice::{self, VoiceOptions, VoiceRig};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn latencies(result: &serde_json::Value) -> Vec<f64> {
    result["questions"]
        .as_array()
        .map(|qs| {
            qs.iter()
                .filter_map(|q| Some(q["answer_start"].as_f64()? - q["end"].as_f64()?))
                .collect()
        })
        .unwrap_or_default()
}

fn report(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        println!("{name}: no answers");
        return;
    }
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize] * 1000.0;
    println!("{name}: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms (n={})", p(0.5), p(0.95), p(1.0), v.len());
}

async fn conversation(rig: &VoiceRig, room: &str, turns: usize) -> serde_json::Value {
    let q = rig.question(room, "What time is it?");
    let server = rig.server.clone();
    let room = room.to_owned();
    tokio::task::spawn_blocking(move || {
        let qs: Vec<&std::path::Path> = std::iter::repeat_n(q.as_path(), turns).collect();
        VoiceRig::converse_blocking(&server, &room, "user", &qs, &["--quiet-secs", "0.8", "--tail", "0.5"])
    })
    .await
    .expect("client")
}

async fn latency(turns: usize, slow: bool) {
    let rig = voice::start("bench", VoiceOptions::default()).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon.".into()];
    });
    if slow {
        rig.fake.set_default(Endpoint::Chat, Behavior::SlowFirstByte(Duration::from_millis(300)));
        rig.fake.set_default(Endpoint::Speech, Behavior::SlowFirstByte(Duration::from_millis(150)));
    }
    let result = conversation(&rig, if slow { "slow" } else { "instant" }, turns).await;
    let name = if slow { "LLM TTFT 300 ms, TTS TTFB 150 ms" } else { "instant fake providers" };
    report(&format!("end of speech -> first agent audio, {name}"), latencies(&result));
    rig.stop().await;
}

async fn load(rooms: usize, turns: usize) {
    let rig = Arc::new(voice::start("load", VoiceOptions::default()).await);
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon. The sun is high.".into()];
    });
    let idle = rss_mb();
    let mut clients = Vec::new();
    for i in 0..rooms {
        let rig = rig.clone();
        clients.push(tokio::spawn(async move { conversation(&rig, &format!("load-{rooms}-{i}"), turns).await }));
    }
    let started = clock::now();
    let (mut samples, mut done) = (Vec::new(), false);
    while !done {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push((clock::now().saturating_duration_since(started), process_cpu_time().unwrap_or_default(), rss_mb()));
        done = clients.iter().all(|c| c.is_finished());
    }
    let mut all = Vec::new();
    for c in clients {
        all.extend(latencies(&c.await.expect("client")));
    }
    let (a, b) = (samples.first().copied(), samples.last().copied());
    let cpu = match (a, b) {
        (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1).as_secs_f64() / (b.0 - a.0).as_secs_f64() * 100.0,
        _ => f64::NAN,
    };
    let peak = samples.iter().map(|s| s.2).fold(0.0, f64::max);
    println!("== {rooms} concurrent conversation(s), {turns} turns each ==");
    report("end of speech -> first agent audio", all);
    println!("agent CPU over the run: {cpu:.1} % of one core ({:.1} % per conversation)", cpu / rooms as f64);
    println!("agent RSS: idle {idle:.1} MB, peak {peak:.1} MB, {:.2} MB per conversation", (peak - idle) / rooms as f64);
    if let Ok(rig) = Arc::try_unwrap(rig) {
        rig.stop().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let turns = args.first().copied().unwrap_or(20);
    let rooms: Vec<usize> = if args.len() > 1 { args[1..].to_vec() } else { vec![1, 10] };
    latency(turns, false).await;
    latency(turns, true).await;
    for n in rooms {
        load(n, 3).await;
    }
}
