//! Voice-session benchmark against a real livekit-server, real Python LiveKit clients and the
//! fake providers (in this process, like the agent).
//!
//! 1. End of the user's speech → first agent audio, as the client hears it: from the end of
//!    the last loud 10 ms frame of the question it sent to the first loud frame of the agent it
//!    received (so it includes WebRTC both ways and the client's jitter buffer). p50/p95 over
//!    TURNS turns in one conversation, with instant fake providers, then with LLM time to first
//!    token 300 ms and TTS time to first byte 150 ms.
//!    The agent's own measurement is reported too: from the end of speech as its VAD placed
//!    it to the first audio packet it sent (`response_ms` of its per-turn log line, the
//!    `voice_response_seconds` histogram). Each is run with `TURN_DETECTION=vad` (silence
//!    alone) and with Smart Turn (the application's default), side by side.
//! 2. CPU and RSS of this process (the agent's worker, VAD, sessions and the fake providers)
//!    while N conversations run at once, for each N in ROOMS. One Python process drives all N
//!    rooms (`lk_client.py converse-many`): N Python processes would not fit on small machines.
//! 3. A tool turn (`tools`): the same end of speech → first audio with instant fakes, where the
//!    LLM first calls a tool that takes 200 ms, then answers with its result — against the
//!    plain instant answer run right before it.
//!
//! 4. Preemptive replies (`preempt`): the latency runs with Smart Turn, instant fakes and the
//!    slow ones, each with `PREEMPTIVE_GENERATION=false` and then with it on (the default).
//!
//! ```text
//! cargo run --release -p voice-agent-tests --bin bench-session [-- TURNS [ROOMS...]]
//! cargo run --release -p voice-agent-tests --bin bench-session -- tools [TURNS]
//! cargo run --release -p voice-agent-tests --bin bench-session -- preempt [TURNS]
//! ```
//!
//! Defaults: 20 turns; rooms 1 10 50 (`0`: no load runs).

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use serde_json::json;
use voice_agent::agent::{Agent, Agents};
use voice_agent::clock;
use voice_agent::core::quota::{Scope, Unit, Window};
use voice_agent::limits::LimitsConfig;
use voice_agent::livekit::worker::load::process_cpu_time;
use voice_agent::tools::{FunctionTool, NoArguments, ToolContext, ToolSet};
use voice_agent_tests::fake_openai::{Behavior, ChatReply, Endpoint, LAST_TOOL_RESULT};
use voice_agent_tests::livekit::client;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

/// Whether the latency runs prepare replies ahead (`PREEMPTIVE_GENERATION`, on by default).
static PREEMPTIVE: AtomicBool = AtomicBool::new(true);

/// Turns of each conversation in the load runs.
const LOAD_TURNS: usize = 3;

/// `response_ms` of every per-turn log line of the agent since the last [`agent_latencies`].
static AGENT_MS: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// Collects the agent's per-turn `response_ms` from its log events.
struct TurnLatencies;

impl<S: tracing::Subscriber> Layer<S> for TurnLatencies {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            turn: bool,
            response_ms: Option<u64>,
        }
        impl Visit for Fields {
            fn record_u64(&mut self, f: &Field, v: u64) {
                if f.name() == "response_ms" {
                    self.response_ms = Some(v);
                }
            }
            fn record_debug(&mut self, f: &Field, v: &dyn Debug) {
                if f.name() == "message" && format!("{v:?}") == "turn" {
                    self.turn = true;
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let (true, Some(ms)) = (fields.turn, fields.response_ms) {
            AGENT_MS.lock().unwrap_or_else(|e| e.into_inner()).push(ms as f64 / 1000.0);
        }
    }
}

/// The agent's latencies logged since the last call.
fn agent_latencies() -> Vec<f64> {
    std::mem::take(&mut *AGENT_MS.lock().unwrap_or_else(|e| e.into_inner()))
}

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

/// Seconds from the end of each question's speech to the agent's first audio.
fn latencies(result: &serde_json::Value) -> Vec<f64> {
    let qs = result["questions"].as_array().map(Vec::as_slice).unwrap_or_default();
    qs.iter().filter_map(|q| Some(q["answer_start"].as_f64()? - q["speech_end"].as_f64()?)).collect()
}

/// Seconds from a room's first question to the end of the agent's last talk spurt.
fn conversation_secs(result: &serde_json::Value) -> f64 {
    let start = result["questions"][0]["start"].as_f64();
    let end = result["spurts"].as_array().and_then(|s| s.last()).and_then(|s| s[1].as_f64());
    match (start, end) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => 0.0,
    }
}

/// Questions asked and answered with audio.
fn answered(result: &serde_json::Value) -> (usize, usize) {
    let qs = result["questions"].as_array().map(Vec::as_slice).unwrap_or_default();
    (qs.len(), qs.iter().filter(|q| q["answer_start"].is_number()).count())
}

fn report(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        println!("{name}: no answers");
        return;
    }
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize] * 1000.0;
    println!(
        "{name}: p50 {:.0} ms, p95 {:.0} ms, min {:.0} ms, max {:.0} ms (n={})",
        p(0.5),
        p(0.95),
        p(0.0),
        p(1.0),
        v.len()
    );
}

fn options(max_jobs: u32, smart: bool) -> VoiceOptions {
    // The usual limits, raised so a long benchmark conversation is never refused.
    let mut limits = LimitsConfig::default();
    limits.quotas.set(Scope::Participant, Unit::Turns, Window::Minute, 10_000);
    limits.quotas.set(Scope::Participant, Unit::Turns, Window::Day, 100_000);
    limits.quotas.set(Scope::Global, Unit::Turns, Window::Minute, 100_000);
    let mut base = if smart { VoiceOptions::smart() } else { VoiceOptions::default() };
    base.session.turn.preemptive = PREEMPTIVE.load(Ordering::Relaxed);
    VoiceOptions { limits, max_jobs, ..base }
}

/// Tool time of the tool-turn run.
const TOOL_TIME: Duration = Duration::from_millis(200);

/// An agent whose one tool takes [`TOOL_TIME`].
struct Clock;

impl Agent for Clock {
    fn instructions(&self) -> String {
        "You tell the time; look it up with the tool.".into()
    }
    fn tools(&self) -> ToolSet {
        ToolSet::new().with(FunctionTool::new(
            "current_time",
            "The time now.",
            |_: ToolContext, _: NoArguments| async {
                tokio::time::sleep(TOOL_TIME).await;
                "noon"
            },
        ))
    }
}

/// One conversation of `turns` questions; `min_silence` overrides the VAD's silence wait;
/// `tool`: each answer first calls a tool that takes [`TOOL_TIME`]; `smart`: Smart Turn
/// decides the end of turn (else the VAD's silence alone).
async fn latency(turns: usize, slow: bool, min_silence: Option<Duration>, tool: bool, smart: bool) {
    let mut opts = options(4, smart);
    if let Some(d) = min_silence {
        opts.segmenter.min_silence = d;
    }
    if tool {
        opts.agents = Some(Agents::new(|_| Clock));
    }
    let rig = voice::start("bench", opts).await;
    agent_latencies();
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon.".into()];
    });
    if tool {
        for _ in 0..turns {
            rig.fake.push_chat(ChatReply::tool_call("current_time", json!({})));
            rig.fake.push_chat(ChatReply::text(&format!("It is {LAST_TOOL_RESULT}.")));
        }
    }
    if slow {
        rig.fake.set_default(Endpoint::Chat, Behavior::SlowFirstByte(Duration::from_millis(300)));
        rig.fake.set_default(Endpoint::Speech, Behavior::SlowFirstByte(Duration::from_millis(150)));
    }
    let q = rig.question("latency", "What time is it?");
    let room = if tool {
        "tool"
    } else if slow {
        "slow"
    } else {
        "instant"
    };
    let qs: Vec<&std::path::Path> = std::iter::repeat_n(q.as_path(), turns).collect();
    let result =
        voice::converse_task(&rig.server, room, "user", &qs, &["--quiet-secs", "0.8", "--tail", "0.5"])
            .await
            .expect("client");
    let mut name = if tool {
        "instant fake providers, one tool step of 200 ms"
    } else if slow {
        "LLM TTFT 300 ms, TTS TTFB 150 ms"
    } else {
        "instant fake providers"
    }
    .to_owned();
    name.push_str(if smart { ", TURN_DETECTION=smart" } else { ", TURN_DETECTION=vad" });
    if !PREEMPTIVE.load(Ordering::Relaxed) {
        name.push_str(", PREEMPTIVE_GENERATION=false");
    }
    if let Some(d) = min_silence {
        name.push_str(&format!(", VAD_MIN_SILENCE_SECS={}", d.as_secs_f64()));
    }
    let (asked, heard) = answered(&result);
    println!("== {name}: {heard}/{asked} questions answered with audio ==");
    report("end of speech -> first agent audio, heard by the client", latencies(&result));
    report("end of speech -> first agent audio packet sent, agent's own", agent_latencies());
    rig.stop().await;
}

/// (seconds since start, CPU time, RSS MB)
type Sample = (f64, Duration, f64);

async fn load(rooms: usize) {
    let rig = Arc::new(voice::start("load", options(rooms as u32 + 2, false)).await);
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon. The sun is high.".into()];
    });
    let q = rig.question("load", "What time is it?");
    let idle = rss_mb();
    agent_latencies();
    let (server, prefix) = (rig.server.clone(), format!("load{rooms}"));
    let client = tokio::task::spawn_blocking(move || {
        let n = rooms.to_string();
        // 20 ms frames: half the Python work per room of the default 10 ms.
        let mut args =
            vec!["--rooms", n.as_str(), "--quiet-secs", "0.8", "--tail", "0.5", "--frame-ms", "20"];
        let path = q.to_str().expect("utf-8 path").to_owned();
        for _ in 0..LOAD_TURNS {
            args.extend(["--say", path.as_str()]);
        }
        // Long waits: with many rooms the client itself is slow to start them all.
        args.extend(["--agent-timeout", "120", "--answer-timeout", "30"]);
        client::run(&server, "converse-many", &prefix, &args)
    });
    let started = clock::now();
    let mut samples: Vec<Sample> = Vec::new();
    while !client.is_finished() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let t = clock::now().saturating_duration_since(started).as_secs_f64();
        samples.push((t, process_cpu_time().unwrap_or_default(), rss_mb()));
    }
    let result = client.await.expect("client");
    let (mut all, mut asked, mut heard, mut failed, mut talk) = (Vec::new(), 0, 0, 0, 0.0);
    for r in result["rooms"].as_array().map(Vec::as_slice).unwrap_or_default() {
        if r.get("error").is_some() {
            failed += 1;
            eprintln!("room {}: {}", r["room"], r["error"]);
        }
        all.extend(latencies(r));
        talk += conversation_secs(r);
        let (a, h) = answered(r);
        asked += a;
        heard += h;
    }
    println!("== {rooms} concurrent conversation(s), {LOAD_TURNS} turns each ==");
    println!("rooms failed: {failed}; questions answered with audio: {heard}/{asked}");
    report("end of speech -> first agent audio, heard by the client", all);
    report("end of speech -> first agent audio packet sent, agent's own", agent_latencies());
    // CPU over the whole client run (joining and leaving included), per second of
    // conversation (first question to last answer, summed over the rooms): rooms that start
    // late or hang do not dilute it.
    if let (Some(a), Some(b)) = (samples.first(), samples.last())
        && b.0 > a.0
    {
        let used = b.1.saturating_sub(a.1).as_secs_f64();
        let cpu = used / (b.0 - a.0) * 100.0;
        let peak_cpu = samples
            .windows(8)
            .map(|w| (w[7].1.saturating_sub(w[0].1)).as_secs_f64() / (w[7].0 - w[0].0) * 100.0)
            .fold(0.0, f64::max);
        let peak = samples.iter().map(|s| s.2).fold(0.0, f64::max);
        println!(
            "agent CPU: {used:.1} s over {:.0} s ({cpu:.1} % of one core; busiest 2 s {peak_cpu:.1} %); \
             {talk:.0} s of conversation: {:.2} % of one core per conversation",
            b.0 - a.0,
            used / talk.max(f64::MIN_POSITIVE) * 100.0
        );
        println!(
            "agent RSS: {idle:.1} MB before, peak {peak:.1} MB, {:.2} MB per conversation",
            (peak - idle) / rooms as f64
        );
    }
    if let Ok(rig) = Arc::try_unwrap(rig) {
        rig.stop().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Warnings on stderr; the per-turn lines feed the agent's own latencies.
    let logs = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::registry()
        .with(TurnLatencies.with_filter(EnvFilter::new("voice_agent::session=info")))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(EnvFilter::new(logs)))
        .init();
    let tools = std::env::args().nth(1).as_deref() == Some("tools");
    let preempt = std::env::args().nth(1).as_deref() == Some("preempt");
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let turns = args.first().copied().unwrap_or(20);
    if tools {
        // A tool turn against the plain answer, one after the other on the same machine.
        latency(turns, false, None, false, false).await;
        latency(turns, false, None, true, false).await;
        return;
    }
    if preempt {
        // Smart Turn without and with preemptive replies, one after the other.
        for slow in [false, true] {
            for on in [false, true] {
                PREEMPTIVE.store(on, Ordering::Relaxed);
                latency(turns, slow, None, false, true).await;
            }
        }
        return;
    }
    let rooms: Vec<usize> = if args.len() > 1 { args[1..].to_vec() } else { vec![1, 10, 50] };
    if turns > 0 {
        for smart in [false, true] {
            latency(turns, false, None, false, smart).await;
            latency(turns, true, None, false, smart).await;
        }
        // The VAD's silence wait (0.45 s by default) is within the endpointing delay (0.5 s),
        // which decides when the agent may answer; with a longer wait (Silero's usual 0.55 s)
        // the VAD would decide instead.
        latency(turns, false, Some(Duration::from_millis(550)), false, false).await;
    }
    for n in rooms.into_iter().filter(|&n| n > 0) {
        load(n).await;
    }
}
