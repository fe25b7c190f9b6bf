//! Echo benchmark against a real livekit-server with real clients (Python, libwebrtc).
//!
//! Runs the worker in this process in echo mode and reports, for 1 and for 10 concurrent
//! rooms: job assignment → room joined, assignment → first remote audio, echo round trip
//! (client send → client receive, minus the echo delay), and this process's CPU and RSS
//! while the rooms are live. The clients and the server run in their own processes, so
//! CPU and RSS are the worker's alone.
//!
//!     cargo run --release -p voice-agent-tests --bin bench-echo [-- ROOMS...]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use voice_agent::clock;
use voice_agent::livekit::echo::EchoHandler;
use voice_agent::livekit::job::{JobContext, JobFuture, JobHandler};
use voice_agent::livekit::metrics::register_metrics;
use voice_agent::livekit::worker::load::process_cpu_time;
use voice_agent_tests::livekit::{LiveKitServer, agent, client, wav};

const ECHO_DELAY: Duration = Duration::from_millis(500);
const REPEAT: &str = "4";

/// Echo, plus a note of how long each job took from assignment to a joined room.
struct Timed {
    inner: EchoHandler,
    joins: Arc<Mutex<Vec<f64>>>,
}

impl JobHandler for Timed {
    fn run(&self, ctx: JobContext) -> JobFuture {
        let secs = clock::now().saturating_duration_since(ctx.assigned_at).as_secs_f64();
        if let Ok(mut j) = self.joins.lock() {
            j.push(secs);
        }
        self.inner.run(ctx)
    }
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Mean of the join-time histogram (assignment → first remote audio).
fn first_audio_mean() -> Option<f64> {
    let mut registry = prometheus_registry();
    register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).ok()?;
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    let (sum, count) = (value("livekit_join_seconds_sum")?, value("livekit_join_seconds_count")?);
    (count > 0.0).then(|| sum / count)
}

fn prometheus_registry() -> prometheus_client::registry::Registry {
    prometheus_client::registry::Registry::default()
}

fn stats(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    v.sort_by(f64::total_cmp);
    let all: Vec<String> = v.iter().map(|x| format!("{:.0}", x * 1000.0)).collect();
    format!(
        "p50 {:.0} ms, max {:.0} ms (n={}; all: {})",
        v[v.len() / 2] * 1000.0,
        v[v.len() - 1] * 1000.0,
        v.len(),
        all.join(" ")
    )
}

async fn scenario(server: &Arc<LiveKitServer>, rooms: usize, speech: &std::path::Path, round: usize) {
    let joins = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(Timed { inner: EchoHandler::new(ECHO_DELAY), joins: joins.clone() });
    let worker = agent::spawn_registered(agent::settings(&server.url(), 100), handler).await;
    let rss_idle = rss_mb();

    let names: Vec<String> = (0..rooms).map(|i| format!("bench-{round}-{i}")).collect();
    let srv = server.clone();
    let dir = speech.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let speech = speech.to_path_buf();
    let clients = tokio::task::spawn_blocking(move || {
        let mut children = Vec::new();
        for name in &names {
            client::create_room(&srv, name);
            let out = dir.join(format!("{name}.wav"));
            let args = [
                "--wav",
                speech.to_str().unwrap_or_default(),
                "--out",
                out.to_str().unwrap_or_default(),
                "--repeat",
                REPEAT,
                "--identity",
                "user",
            ];
            children.push(client::spawn(&srv, "echo", name, &args));
        }
        children.into_iter().map(|c| client::finish("echo", c)).collect::<Vec<_>>()
    });

    // Sample CPU and RSS while the rooms are busy (after joins, before the tails).
    let mut samples = Vec::new();
    let started = clock::now();
    while !clients.is_finished() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push((
            clock::now().saturating_duration_since(started),
            process_cpu_time().unwrap_or_default(),
            rss_mb(),
        ));
    }
    let results = clients.await.expect("clients");
    let window: Vec<_> = samples
        .iter()
        .filter(|(t, _, _)| *t >= Duration::from_secs(6) && *t <= Duration::from_secs(18))
        .collect();
    let cpu = match (window.first(), window.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1).as_secs_f64() / (b.0 - a.0).as_secs_f64() * 100.0,
        _ => f64::NAN,
    };
    let rss_peak = samples.iter().map(|s| s.2).fold(0.0, f64::max);
    let mut rtts: Vec<f64> = results
        .iter()
        .filter_map(|r| r["recv_onset_minus_send_onset_s"].as_f64())
        .map(|v| v - ECHO_DELAY.as_secs_f64())
        .collect();
    let mut join_times = joins.lock().map(|j| j.clone()).unwrap_or_default();
    println!("== {rooms} concurrent echo room(s) ==");
    println!("assignment -> room joined:        {}", stats(&mut join_times));
    println!(
        "assignment -> first remote audio: mean {:.0} ms (includes the client starting up and joining)",
        first_audio_mean().unwrap_or(f64::NAN) * 1000.0
    );
    println!("echo round trip minus {} ms delay: {}", ECHO_DELAY.as_millis(), stats(&mut rtts));
    println!("worker CPU while live:            {cpu:.1} % of one core");
    println!(
        "worker RSS:                       idle {rss_idle:.1} MB, peak {rss_peak:.1} MB, {:.2} MB per room",
        (rss_peak - rss_idle) / rooms as f64
    );
    worker.stop().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rooms: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rooms = if rooms.is_empty() { vec![1, 10] } else { rooms };
    let server = Arc::new(LiveKitServer::start());
    let dir = std::env::temp_dir().join(format!("voice-agent-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let speech = dir.join("speech.wav");
    wav::speech("The quick brown fox jumps over the lazy dog. One, two, three, four.", &speech);
    for (round, n) in rooms.into_iter().enumerate() {
        scenario(&server, n, &speech, round).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
