//! Benchmark of the offline local stack, warm, per engine and per turn.
//!
//! ```text
//! cargo run --release -p voice-agent-tests --bin bench-local -- [--turns 10]
//! ```
//!
//! Starts the stack on free ports (as the tests do), then for each of N different spoken
//! questions runs the provider side of a turn as the agent does: STT of the espeak-ng question
//! → streamed LLM answer → TTS of its first sentence. Reports p50/p95 of STT time, LLM first
//! token and first sentence, decode tokens/s, TTS first byte, and their sum "end of speech →
//! first audio byte" (provider side only: it excludes the agent's endpointing delay and
//! LiveKit transport), and each engine's RSS (process group) after the run.
#![allow(clippy::unwrap_used)] // a benchmark tool: a failure should stop it loudly

use std::time::Duration;

use voice_agent::clock;
use voice_agent_tests::local_stack::client;
use voice_agent_tests::local_stack::{Engine, LocalStack, speech_wav_16k};

const SYSTEM: &str = "You are a helpful voice assistant. Answer in one or two short sentences.";
const QUESTIONS: [&str; 10] = [
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let turns: usize = args
        .iter()
        .position(|a| a == "--turns")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(QUESTIONS.len());

    let t0 = clock::now();
    let stack = LocalStack::start();
    println!("stack started and warm in {:.1} s", (clock::now() - t0).as_secs_f64());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let (stt_url, llm_url, tts_url) =
        (stack.base_url(Engine::Stt), stack.base_url(Engine::Llm), stack.base_url(Engine::Tts));

    let (mut stt, mut ttft, mut ttfs, mut tts_fb, mut turn) = (vec![], vec![], vec![], vec![], vec![]);
    let mut tps = vec![];
    for i in 0..turns {
        let question = QUESTIONS[i % QUESTIONS.len()];
        let heard = client::transcribe(&http, &stt_url, speech_wav_16k(question)).await.unwrap();
        let chat = client::chat(&http, &llm_url, &[("system", SYSTEM), ("user", &heard.text)], 80).await.unwrap();
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
    row("STT (Whisper tiny.en, ~2 s question)", &stt);
    row("LLM first token", &ttft);
    row("LLM first sentence", &ttfs);
    row("TTS first byte (first sentence)", &tts_fb);
    row("end of speech → first audio byte (providers)", &turn);
    tps.sort_by(f64::total_cmp);
    if let Some(median) = tps.get(tps.len() / 2) {
        println!("{:<44} median {median:.1} tokens/s", "LLM decode speed");
    }
    for e in Engine::ALL {
        let mb = stack.rss_bytes(e).unwrap_or(0) as f64 / (1 << 20) as f64;
        println!("RSS {:<40} {mb:>7.0} MB", e.name());
    }
}
