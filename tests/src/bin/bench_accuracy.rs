//! Accuracy benchmark of the offline local mode, end to end in real rooms.
//!
//! ```text
//! cargo run --release -p voice-agent-tests --bin bench-accuracy -- [--small] [--clean | --noisy]
//!     [--conversations N] [--system-prompt TEXT]
//! ```
//!
//! The quiz (`local_stack::quiz`: 49 short questions in 10 conversations, four espeak-ng
//! voices) is asked twice, each conversation in its own room with livekit-server, the agent's
//! worker and voice session (this process) on the local stack, and the real Python LiveKit
//! client: once clean, once with pink noise at 10 and 15 dB SNR (alternating). Each spoken
//! answer is recorded by the client, transcribed back with the stack's Whisper and scored by
//! its expected words. Reports accuracy (heard; and in the agent's own text), the word error
//! rate of the agent's transcripts of the questions, and end of speech → first agent audio
//! p50/p95 as the client measures it (last question frame sent → first loud agent frame) and
//! as the agent does; the load average before and after (latency depends on it, accuracy
//! does not), and each engine's RSS. `--small`: the small profile's engines.
#![allow(clippy::unwrap_used)] // a benchmark tool: a failure should stop it loudly

use std::time::Duration;

use voice_agent::clock;
use voice_agent::session::SessionConfig;
use voice_agent_tests::local_stack::accuracy::{self, Summary, Turn, percentile};
use voice_agent_tests::local_stack::quiz::QUIZ;
use voice_agent_tests::local_stack::room;
use voice_agent_tests::local_stack::spoken::Condition;
use voice_agent_tests::local_stack::turn_log::TurnLog;
use voice_agent_tests::local_stack::{Engine, Profile};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.0}", d.as_secs_f64() * 1e3))
}

fn condition_name(c: Condition) -> String {
    match c {
        Condition::Clean => "clean".to_owned(),
        Condition::Noisy { snr_db } => format!("{snr_db:.0} dB"),
    }
}

fn print_turn(i: usize, t: &Turn) {
    // Each line as soon as its conversation is over (a whole run takes a while).
    println!(
        "{i:>3} {:<6} {} {:>5} ms | {:?} → agent heard {:?} | said {:?} | heard back {:?}",
        condition_name(t.condition),
        if t.right { "OK" } else { "--" },
        ms(t.latency),
        t.question.text,
        t.heard_by_agent,
        t.said,
        t.heard_back,
    );
}

fn summary_row(name: &str, s: &Summary) {
    println!(
        "{name:<22} {:>3}/{:<3} {:>5.1}%   {:>5.1}%   {:>5.1}%   {:>6} {:>6} ms",
        s.right,
        s.asked,
        100.0 * s.accuracy(),
        100.0 * s.right_text as f64 / s.asked.max(1) as f64,
        100.0 * s.wer(),
        ms(s.latency(0.5)),
        ms(s.latency(0.95)),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let profile = if args.iter().any(|a| a == "--small") { Profile::Small } else { Profile::Default };
    let n = arg(&args, "--conversations").and_then(|v| v.parse().ok()).unwrap_or(QUIZ.len());
    let convs = &QUIZ[..n.min(QUIZ.len())];
    let clean = !args.iter().any(|a| a == "--noisy");
    let noisy = !args.iter().any(|a| a == "--clean");
    let prompt = arg(&args, "--system-prompt").unwrap_or_else(|| SessionConfig::default().system_prompt);

    let log = TurnLog::install();
    let t0 = clock::now();
    let load_before = load_average();
    let rig = room::start_with("bench-accuracy", profile, prompt).await;
    println!(
        "profile {}: local stack, livekit-server and worker up in {:.1} s (load average {load_before})",
        profile.name(),
        (clock::now() - t0).as_secs_f64()
    );

    let mut runs: Vec<(String, Vec<Turn>)> = Vec::new();
    let mut i = 0;
    let mut show = |t: &Turn| {
        print_turn(i, t);
        i += 1;
    };
    if clean {
        let turns = accuracy::run(&rig, "clean", convs, |_| Condition::Clean, &mut show).await;
        runs.push(("clean".to_owned(), turns));
    }
    if noisy {
        let snr = |k: usize| Condition::Noisy { snr_db: if k.is_multiple_of(2) { 10.0 } else { 15.0 } };
        let turns = accuracy::run(&rig, "noisy", convs, snr, &mut show).await;
        runs.push(("noisy (10/15 dB SNR)".to_owned(), turns));
    }
    let load_after = load_average();
    let agent: Vec<Duration> = log
        .turns()
        .iter()
        .filter(|t| t.outcome == "answered")
        .filter_map(|t| t.response_ms)
        .map(Duration::from_millis)
        .collect();
    println!(
        "\nprofile {} ({} questions per condition, {} conversations)",
        profile.name(),
        convs.iter().map(|c| c.questions.len()).sum::<usize>(),
        convs.len()
    );
    println!(
        "{:<22} {:>9} {:>7}   {:>6}   {:>6}   {:>6} {:>6}",
        "", "right", "", "text", "WER", "p50", "p95"
    );
    for (name, turns) in &runs {
        summary_row(name, &Summary::of(turns));
    }
    println!(
        "agent-side end of speech → first audio sent: p50 {} ms, p95 {} ms (n={})",
        ms(percentile(&agent, 0.5)),
        ms(percentile(&agent, 0.95)),
        agent.len()
    );
    println!("load average before {load_before}, after {load_after}");
    for e in Engine::ALL {
        let mb = rig.stack.rss_bytes(e).unwrap_or(0) as f64 / (1 << 20) as f64;
        println!("RSS {:<4} {mb:>6.0} MB", e.name());
    }
    rig.stop().await;
}
