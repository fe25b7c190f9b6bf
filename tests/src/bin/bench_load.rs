//! Load benchmark: one agent worker — the shipped binary in its own process — under N
//! concurrent conversations, N = 25, 50, 100, 150 by default, against a real livekit-server and
//! the fake providers (instant; in this process, like a remote API).
//!
//! The users are simulated by this one process on the project's own Rust participant
//! ([`voice_agent_tests::load`]): every user has its own room and asks espeak-ng questions,
//! encoded to Opus once, in a loop with 1–3 s pauses, so the load generator is not what gives
//! out first. For each N, after the ramp (users join 0.1 s apart) and a settling pause, a
//! measurement window of SECS seconds reports:
//! - questions answered with agent audio within 8 s (of those whose speech ended in the window);
//! - end of speech → first agent audio: the agent's own figure (`response_ms` of its per-turn
//!   log line: VAD end of speech → first packet sent) and the client's (last loud frame sent →
//!   first loud frame received, so it includes both WebRTC legs and the SFU), p50/p95;
//! - the agent's CPU (% of one core per conversation) and RSS per added session (peak RSS in the
//!   window over the idle process, ÷ N); this process's and the server's CPU, and the machine's
//!   load average, so a saturated machine shows.
//!
//! ```text
//! cargo build --release -p voice-agent-tests --bins
//! target/release/bench-load [SECS [ROOMS...]]          (defaults: 60; 25 50 100 150)
//! ```
//!
//! The agent gets the environment of this process on top of the bench's settings (e.g.
//! `LOAD_THRESHOLD=1` to keep taking jobs past the default 0.7 of the machine's cores).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use voice_agent::clock;
use voice_agent_tests::binary::{self, Process, get};
use voice_agent_tests::fake_openai::FakeOpenAi;
use voice_agent_tests::livekit::LiveKitServer;
use voice_agent_tests::livekit::voice::speech_pcm;
use voice_agent_tests::load::{Question, UserPlan, UserReport, run_user};
use voice_agent_tests::net::free_port;

const QUESTIONS: [&str; 4] = [
    "What time is it?",
    "What is the weather like today?",
    "Tell me something interesting.",
    "How far away is the moon?",
];
const ANSWER_TIMEOUT: Duration = Duration::from_secs(8);
const USER_SPACING: Duration = Duration::from_millis(100);
const SETTLE: Duration = Duration::from_secs(8);
/// Linux's USER_HZ, fixed by the kernel ABI.
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) of process `pid`.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let mut f = rest.split_whitespace().skip(11);
    let mut next = || f.next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (next() + next()) / USER_HZ
}

/// Resident memory of process `pid`, MB.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `p`-quantile of sorted values (ms).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The agent binary with the bench's settings, its per-turn `response_ms` collected.
struct Agent {
    process: Process,
    pid: u32,
    port: u16,
    /// (arrival, response ms) of every turn log line.
    turns: Arc<Mutex<Vec<(Instant, f64)>>>,
    /// Warnings and errors it logged (first few kept).
    complaints: Arc<Mutex<Vec<String>>>,
    /// Job offers it accepted, and declined by reason.
    offers: Arc<Mutex<Offers>>,
}

/// What the agent answered the server's job offers.
#[derive(Debug, Default)]
struct Offers {
    accepted: usize,
    declined: std::collections::BTreeMap<String, usize>,
}

fn start_agent(server: &LiveKitServer, fake: &FakeOpenAi, rooms: usize) -> Agent {
    let port = free_port();
    let mut cmd = binary::command();
    binary::run_on_livekit(&mut cmd, server, port)
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .env("MAX_JOBS", (rooms + 10).to_string())
        .env("DRAIN_TIMEOUT_SECS", "5")
        .env("GREETING_ENABLED", "false")
        // Limits far above what the run asks, so no question is refused.
        .env("LIMIT_TURNS_PER_MIN", "10000")
        .env("LIMIT_TURNS_PER_DAY", "1000000")
        .env("LIMIT_GLOBAL_TURNS_PER_MIN", "1000000")
        .env("COST_CAP_USER_USD_PER_DAY", "100000")
        .env("COST_CAP_GLOBAL_USD_PER_DAY", "100000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    binary::with_providers(&mut cmd, &fake.base_url(), "sk-bench");
    let mut process = Process(cmd.spawn().expect("start the agent binary"));
    let pid = process.0.id();
    let stderr = process.0.stderr.take().expect("piped stderr");
    let turns: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::default();
    let complaints: Arc<Mutex<Vec<String>>> = Arc::default();
    let offers: Arc<Mutex<Offers>> = Arc::default();
    let (t, c, o) = (turns.clone(), complaints.clone(), offers.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if v["message"] == "turn"
                && let Some(ms) = v["response_ms"].as_f64()
            {
                t.lock().unwrap_or_else(|e| e.into_inner()).push((clock::now(), ms));
            } else if v["message"] == "accepting job" {
                o.lock().unwrap_or_else(|e| e.into_inner()).accepted += 1;
            } else if v["message"] == "declining job" {
                let reason = v["reason"].as_str().unwrap_or("?").to_owned();
                *o.lock().unwrap_or_else(|e| e.into_inner()).declined.entry(reason).or_default() += 1;
            }
            if matches!(v["level"].as_str(), Some("WARN" | "ERROR")) {
                let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                if c.len() < 5 {
                    c.push(line);
                }
            }
        }
    });
    for _ in 0..600 {
        if get(port, "/readyz").0 == 200 {
            return Agent { process, pid, port, turns, complaints, offers };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the agent never became ready: {:?}", get(port, "/readyz"));
}

/// A sample of everyone's CPU and the agent's memory.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    agent_cpu: f64,
    agent_rss: f64,
    own_cpu: f64,
    server_cpu: f64,
}

fn sample(agent: u32, server: u32) -> Sample {
    Sample {
        at: clock::now(),
        agent_cpu: cpu_secs(agent),
        agent_rss: rss_mb(agent),
        own_cpu: cpu_secs(std::process::id()),
        server_cpu: cpu_secs(server),
    }
}

async fn run(server: &LiveKitServer, fake: &FakeOpenAi, questions: &Arc<Vec<Question>>, n: usize, secs: u64) {
    let agent = start_agent(server, fake, n);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_mb(agent.pid);
    let server_pid = server.pid().unwrap_or(0);
    let start = clock::now();
    let window_start = start + USER_SPACING * n as u32 + SETTLE;
    let window_end = window_start + Duration::from_secs(secs);
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let plan = UserPlan {
            url: server.url(),
            room: format!("load-{n}-{i}"),
            identity: format!("user-{i}"),
            questions: questions.clone(),
            first_question: i,
            think: (Duration::from_secs(1), Duration::from_secs(3)),
            until: window_end,
            agent_timeout: Duration::from_secs(30),
            answer_timeout: ANSWER_TIMEOUT,
        };
        users.push(tokio::spawn(run_user(plan)));
        tokio::time::sleep(USER_SPACING).await;
    }
    // Samples every second until every user is done.
    let mut samples = Vec::new();
    while users.iter().any(|u| !u.is_finished()) {
        samples.push(sample(agent.pid, server_pid));
        fake.forget_requests();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let load = load_average();
    let mut reports: Vec<UserReport> = Vec::new();
    for u in users {
        reports.push(u.await.unwrap_or_default());
    }
    let in_window = |t: Instant| t >= window_start && t < window_end;
    let (mut asked, mut answered, mut client) = (0, 0, Vec::new());
    for r in &reports {
        for a in r.asked.iter().filter(|a| in_window(a.speech_end)) {
            asked += 1;
            if let Some(l) = a.latency() {
                answered += 1;
                client.push(l.as_secs_f64() * 1000.0);
            }
        }
    }
    let no_agent = reports.iter().filter(|r| r.agent_ready.is_none()).count();
    let failed: Vec<&str> = reports.iter().filter_map(|r| r.error.as_deref()).collect();
    let mut own: Vec<f64> = {
        let t = agent.turns.lock().unwrap_or_else(|e| e.into_inner());
        t.iter().filter(|(at, _)| in_window(*at)).map(|(_, ms)| *ms).collect()
    };
    own.sort_by(f64::total_cmp);
    client.sort_by(f64::total_cmp);
    let window: Vec<&Sample> = samples.iter().filter(|s| in_window(s.at)).collect();
    let (cpu, own_cpu, server_cpu, peak_rss) = match (window.first(), window.last()) {
        (Some(a), Some(b)) if b.at > a.at => {
            let wall = b.at.duration_since(a.at).as_secs_f64();
            let pct = |x: f64, y: f64| (y - x) / wall * 100.0;
            (
                pct(a.agent_cpu, b.agent_cpu),
                pct(a.own_cpu, b.own_cpu),
                pct(a.server_cpu, b.server_cpu),
                window.iter().map(|s| s.agent_rss).fold(0.0, f64::max),
            )
        }
        _ => (f64::NAN, f64::NAN, f64::NAN, f64::NAN),
    };
    println!("== {n} concurrent conversations, {secs} s window ==");
    println!(
        "answered {answered}/{asked} ({:.1} %); rooms without an agent {no_agent}; user errors {}",
        answered as f64 / asked.max(1) as f64 * 100.0,
        failed.len()
    );
    for e in failed.iter().take(3) {
        println!("  user error: {e}");
    }
    println!(
        "end of speech -> first audio: agent p50 {:.0} ms, p95 {:.0} ms (n={}); client p50 {:.0} ms, p95 {:.0} ms (n={})",
        quantile(&own, 0.5),
        quantile(&own, 0.95),
        own.len(),
        quantile(&client, 0.5),
        quantile(&client, 0.95),
        client.len()
    );
    println!(
        "agent CPU {cpu:.0} % of one core ({:.2} % per conversation); RSS idle {idle_rss:.0} MB, peak {peak_rss:.0} MB \
         ({:.2} MB per conversation); load generator {own_cpu:.0} %, livekit-server {server_cpu:.0} %; load average {load}",
        cpu / n as f64,
        (peak_rss - idle_rss) / n as f64
    );
    println!(
        "| {n} | {answered}/{asked} | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.2} % | {:.2} MB | {own_cpu:.0} % / {server_cpu:.0} % |",
        quantile(&own, 0.5),
        quantile(&own, 0.95),
        quantile(&client, 0.5),
        quantile(&client, 0.95),
        cpu / n as f64,
        (peak_rss - idle_rss) / n as f64
    );
    {
        let o = agent.offers.lock().unwrap_or_else(|e| e.into_inner());
        println!("job offers: {} accepted, declined {:?}", o.accepted, o.declined);
    }
    for c in agent.complaints.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("  agent: {c}");
    }
    let Agent { mut process, port, .. } = agent;
    let _ = get(port, "/healthz");
    process.terminate(Duration::from_secs(20));
    // Let the rooms empty before the next run.
    tokio::time::sleep(Duration::from_secs(3)).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let logs = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(logs).with_writer(std::io::stderr).init();
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let secs = args.first().copied().unwrap_or(60);
    let rooms: Vec<usize> =
        if args.len() > 1 { args[1..].iter().map(|&n| n as usize).collect() } else { vec![25, 50, 100, 150] };
    let server = LiveKitServer::start();
    let fake = FakeOpenAi::start().await;
    let answer = speech_pcm("It is noon.", 24_000);
    fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon.".into()];
        r.speech_pcm = answer;
    });
    let questions = Arc::new(QUESTIONS.iter().map(|q| Question::render(q)).collect::<Vec<_>>());
    println!("machine: {} cores, load average {}", num_cpus(), load_average());
    println!(
        "| conversations | answered | agent p50 / p95 | client p50 / p95 | agent CPU per conversation | RSS per conversation | generator / server CPU |"
    );
    println!("|---|---|---|---|---|---|---|");
    for n in rooms {
        run(&server, &fake, &questions, n, secs).await;
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
