//! Benchmark of the offline local stack, warm: per turn in a real room, and per engine.
//!
//! ```text
//! cargo run --release -p voice-agent-tests --bin bench-local -- --room [--turns 12] [--small] [--vad]
//! cargo run --release -p voice-agent-tests --bin bench-local -- [--turns 10] [--small]
//! ```
//!
//! `--room`: the whole system as a user meets it. livekit-server, the agent's worker and voice
//! session (in this process) on the local stack, and the real Python LiveKit client asking N
//! espeak-ng questions in one conversation (the history grows). Reports p50/p95 of end of
//! speech → first agent audio as the client measures it (its last question frame sent → the
//! first loud agent frame received: endpointing delay, VAD, STT, LLM first sentence, TTS first
//! byte, Opus and WebRTC included), the same span as the agent measures it, and the agent's
//! STT time, LLM first token and TTS first byte (from its per-turn log line), and when each
//! stage happened after the end of speech: the VAD reported the utterance's end, its
//! transcript came in, the reply started (ahead of the end of the turn when preemptive), its
//! first token, its first sentence went to TTS, the end of the turn was confirmed (a reply
//! prepared ahead released); then each engine's RSS and this process's. Turns end as the
//! application's defaults have it (Smart Turn, preemptive replies); `--vad`: on silence alone.
//! The answer's first words go to TTS as `scripts/dev` has it for the local LLM
//! (`FIRST_WORDS=4`); `FIRST_WORDS=0` in the environment: whole sentences only.
//!
//! Without `--room`: the provider side of a turn only. For each of N different spoken
//! questions it runs STT of the espeak-ng question → streamed LLM answer → TTS of its first
//! sentence, as the agent does, and reports p50/p95 of each stage, decode tokens/s, their sum
//! (excluding endpointing and transport), and each engine's RSS (process group).
#![allow(clippy::unwrap_used)] // a benchmark tool: a failure should stop it loudly

use std::time::Duration;

use std::path::PathBuf;

use voice_agent::clock;
use voice_agent::session::SessionConfig;
use voice_agent_tests::local_stack::room::{self, Turns};
use voice_agent_tests::local_stack::turn_log::TurnLog;
use voice_agent_tests::local_stack::{Engine, LocalStack, Profile, client, speech_wav_16k};

const SYSTEM: &str = "You are a helpful voice assistant. Answer in one or two short sentences.";
const QUESTIONS: [&str; 12] = [
    "What is the capital of France?",
    "What is the capital of Italy?",
    "How many days are in a week?",
    "What color is the sky on a clear day?",
    "What do bees make?",
    "Which planet do we live on?",
    "What is frozen water called?",
    "How many legs does a spider have?",
    "What is the opposite of hot?",
    "What language is spoken in Spain?",
    "Which animal says moo?",
    "How many hours are in a day?",
];

fn pct(values: &[Duration], p: f64) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn row(name: &str, values: &[Duration]) {
    println!(
        "{name:<44} p50 {:>7.0} ms   p95 {:>7.0} ms   (n={})",
        pct(values, 0.5).as_secs_f64() * 1e3,
        pct(values, 0.95).as_secs_f64() * 1e3,
        values.len()
    );
}

/// The answer up to the end of its first sentence (what the agent sends to TTS first).
fn first_sentence(text: &str) -> &str {
    text.find(['.', '!', '?']).map(|i| &text[..=i]).unwrap_or(text).trim()
}

fn ms(v: Option<u64>) -> Option<Duration> {
    v.map(Duration::from_millis)
}

fn rss_mb(bytes: Option<u64>) -> f64 {
    bytes.unwrap_or(0) as f64 / (1 << 20) as f64
}

fn own_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// Per turn in a real room: the client's and the agent's view.
async fn in_room(turns: usize, profile: Profile, mode: Turns) {
    let log = TurnLog::install();
    let t0 = clock::now();
    let prompt = SessionConfig::default().system_prompt;
    let rig = room::start_turns("bench-local", profile, prompt, mode).await;
    println!("local stack, livekit-server and worker up in {:.1} s", (clock::now() - t0).as_secs_f64());
    let questions: Vec<PathBuf> =
        (0..turns).map(|i| rig.question(&format!("q{i}"), QUESTIONS[i % QUESTIONS.len()])).collect();
    let result = rig.converse("bench-local", &questions, &["--quiet-secs", "1.0"]).await;
    let asked = result["questions"].as_array().cloned().unwrap_or_default();
    let said = room::agent_said(&result);
    let agent_turns: Vec<_> = log.turns().into_iter().filter(|t| t.outcome == "answered").collect();

    let (mut e2e, mut response, mut stt, mut ttft, mut ttfb) = (vec![], vec![], vec![], vec![], vec![]);
    let mut stages: [Vec<Duration>; 6] = Default::default();
    for (i, q) in asked.iter().enumerate() {
        let client = match (q["answer_start"].as_f64(), q["end"].as_f64()) {
            (Some(a), Some(e)) => Some(Duration::from_secs_f64((a - e).max(0.0))),
            _ => None,
        };
        let t = agent_turns.get(i).cloned().unwrap_or_default();
        let show = |d: Option<Duration>| {
            d.map_or_else(|| "-".to_owned(), |d| format!("{:.0}", d.as_secs_f64() * 1e3))
        };
        println!(
            "turn {i:>2}: client {:>5} ms | agent {:>5} ms = stt {:>4} + llm first token {:>4} + tts first byte {:>3} (+ endpointing, sentence) | {:?}",
            show(client),
            show(ms(t.response_ms)),
            show(ms(t.stt_ms)),
            show(ms(t.llm_ttft_ms)),
            show(ms(t.tts_ttfb_ms)),
            said.get(i).map_or("", String::as_str),
        );
        let at = [
            t.heard_ms,
            t.transcribed_ms,
            t.reply_started_ms,
            t.first_token_ms,
            t.first_sentence_ms,
            t.released_ms,
        ];
        println!(
            "         after the end of speech: heard {:>4} | transcribed {:>4} | reply started {:>4} | first token {:>4} | first sentence {:>4} | released {:>4}",
            show(ms(at[0])),
            show(ms(at[1])),
            show(ms(at[2])),
            show(ms(at[3])),
            show(ms(at[4])),
            show(ms(at[5])),
        );
        for (all, v) in stages.iter_mut().zip(at) {
            all.extend(ms(v));
        }
        e2e.extend(client);
        response.extend(ms(t.response_ms));
        stt.extend(ms(t.stt_ms));
        ttft.extend(ms(t.llm_ttft_ms));
        ttfb.extend(ms(t.tts_ttfb_ms));
    }
    println!();
    row("end of speech → first agent audio (client)", &e2e);
    row("end of speech → first audio sent (agent)", &response);
    row("STT (Whisper)", &stt);
    row("LLM first token", &ttft);
    row("TTS first byte (first sentence)", &ttfb);
    let names = [
        "VAD reported the end",
        "transcript in",
        "reply started",
        "LLM first token",
        "first sentence to TTS",
        "turn confirmed (released)",
    ];
    for (name, v) in names.iter().zip(&stages) {
        row(&format!("end of speech → {name}"), v);
    }
    for e in Engine::ALL {
        println!("RSS {:<40} {:>7.0} MB", e.name(), rss_mb(rig.stack.rss_bytes(e)));
    }
    println!("RSS {:<40} {:>7.0} MB", "agent (this process: worker, VAD)", rss_mb(own_rss()));
    assert_eq!(e2e.len(), turns, "not every question got a spoken answer: {result}");
    rig.stop().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let turns: usize = args
        .iter()
        .position(|a| a == "--turns")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(QUESTIONS.len());
    let profile = if args.iter().any(|a| a == "--small") { Profile::Small } else { Profile::Default };
    if args.iter().any(|a| a == "--room") {
        let mode = if args.iter().any(|a| a == "--vad") { Turns::Vad } else { Turns::Smart };
        in_room(turns, profile, mode).await;
        return;
    }

    let t0 = clock::now();
    let stack = LocalStack::start_with(&Engine::ALL, profile);
    println!("stack started and warm in {:.1} s", (clock::now() - t0).as_secs_f64());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let (stt_url, llm_url, tts_url) =
        (stack.base_url(Engine::Stt), stack.base_url(Engine::Llm), stack.base_url(Engine::Tts));

    let (mut stt, mut ttft, mut ttfs, mut tts_fb, mut turn) = (vec![], vec![], vec![], vec![], vec![]);
    let mut tps = vec![];
    for i in 0..turns {
        let question = QUESTIONS[i % QUESTIONS.len()];
        let heard = client::transcribe(&http, &stt_url, speech_wav_16k(question)).await.unwrap();
        let chat =
            client::chat(&http, &llm_url, &[("system", SYSTEM), ("user", &heard.text)], 80).await.unwrap();
        let sentence = first_sentence(&chat.text);
        let spoken = client::speech(&http, &tts_url, sentence).await.unwrap();
        let (Some(ft), Some(fb)) = (chat.first_token, spoken.first_byte) else {
            panic!("turn {i}: no token or no audio: {chat:?}");
        };
        let fs = chat.first_sentence.unwrap_or(chat.elapsed);
        println!(
            "turn {i:>2}: stt {:>4.0} ms {:?} → llm first token {:>4.0} ms, sentence {:>4.0} ms {:?} → tts first byte {:>4.0} ms",
            heard.elapsed.as_secs_f64() * 1e3,
            heard.text,
            ft.as_secs_f64() * 1e3,
            fs.as_secs_f64() * 1e3,
            sentence,
            fb.as_secs_f64() * 1e3,
        );
        stt.push(heard.elapsed);
        ttft.push(ft);
        ttfs.push(fs);
        tts_fb.push(fb);
        turn.push(heard.elapsed + fs + fb);
        tps.extend(chat.tokens_per_second());
    }

    println!();
    row("STT (Whisper, ~2 s question)", &stt);
    row("LLM first token", &ttft);
    row("LLM first sentence", &ttfs);
    row("TTS first byte (first sentence)", &tts_fb);
    row("end of speech → first audio byte (providers)", &turn);
    tps.sort_by(f64::total_cmp);
    if let Some(median) = tps.get(tps.len() / 2) {
        println!("{:<44} median {median:.1} tokens/s", "LLM decode speed");
    }
    for e in Engine::ALL {
        println!("RSS {:<40} {:>7.0} MB", e.name(), rss_mb(stack.rss_bytes(e)));
    }
}
