//! Provider path costs, against the fake provider on loopback in the same run:
//!
//! 1. guard overhead per call: `Providers::chat` / `Providers::speak` (limits, breaker,
//!    deadline, retry bookkeeping, SSE/PCM decoding, settlement) vs a bare `reqwest` call that
//!    reads the same response to the end;
//! 2. SSE parse throughput (events only, and events + chunk JSON), MB/s;
//! 3. TTS first byte → first 48 kHz PCM frame ready (decode + upsample one network chunk).
//!
//!     cargo bench -p voice-agent-tests --bench providers
//!
//! Environment: `CALLS` per variant (default 300).
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // a benchmark measures wall time; a failed unwrap aborts it

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use voice_agent::core::quota::Quotas;
use voice_agent::limits::{Limiter, LimitsConfig};
use voice_agent::providers::openai::parse_chunk;
use voice_agent::providers::pcm::{PcmDecoder, Upsampler2x};
use voice_agent::providers::sse::SseParser;
use voice_agent::providers::{Call, ChatMessage, EndpointConfig, Providers, ProvidersConfig, Role};
use voice_agent_tests::fake_openai::FakeOpenAi;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut v: Vec<Duration>) -> Duration {
    let p50 = pct(&mut v, 0.5);
    println!(
        "{name:<34} p50 {:>8.1} µs  p90 {:>8.1} µs  p99 {:>8.1} µs",
        us(p50),
        us(pct(&mut v, 0.9)),
        us(pct(&mut v, 0.99))
    );
    p50
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn call() -> Call {
    Call {
        participant: Arc::from("bench"),
        room: Arc::from("bench-room"),
        deadline: Instant::now() + Duration::from_secs(30),
        cancel: CancellationToken::new(),
    }
}

async fn guard_overhead(calls: usize) {
    let fake = FakeOpenAi::start().await;
    let ep = |model: &str| EndpointConfig {
        base_url: fake.base_url(),
        api_key: Some("sk".into()),
        model: model.into(),
    };
    let mut cfg = ProvidersConfig::default();
    cfg.llm.endpoints = vec![ep("gpt-4o-mini")];
    cfg.tts.endpoints = vec![ep("tts-1")];
    let mut registry = Registry::default();
    let rm = voice_agent::limits::register_metrics(&mut registry);
    let pm = voice_agent::providers::register_metrics(&mut registry);
    let lc = LimitsConfig { quotas: Quotas::unlimited(), ..LimitsConfig::default() };
    let limiter = Arc::new(Limiter::new(&lc, rm.clone(), "bench", Instant::now()).unwrap());
    let providers = Providers::new(&cfg, limiter, rm, pm).unwrap();
    let http = reqwest::Client::new();
    let msgs = [ChatMessage { role: Role::User, content: "Hello, how are you today?".into() }];
    let body = json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
        "max_tokens": 300, "temperature": 0.7, "messages": [{"role": "user", "content": "Hello, how are you today?"}]});
    let speech =
        json!({"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "pcm"});
    let (mut bare_chat, mut guarded_chat, mut bare_tts, mut guarded_tts) = (vec![], vec![], vec![], vec![]);
    for i in 0..calls + 20 {
        let t = Instant::now();
        let resp = http
            .post(format!("{}/chat/completions", fake.base_url()))
            .bearer_auth("sk")
            .json(&body)
            .send()
            .await
            .unwrap();
        let mut s = resp.bytes_stream();
        let mut n = 0;
        while let Some(c) = s.next().await {
            n += c.unwrap().len();
        }
        assert!(n > 0);
        let bare = t.elapsed();
        let t = Instant::now();
        let mut s = providers.chat(&call(), &msgs).await.unwrap();
        while let Some(d) = s.next().await {
            d.unwrap();
        }
        let guarded = t.elapsed();
        let t = Instant::now();
        let resp = http
            .post(format!("{}/audio/speech", fake.base_url()))
            .bearer_auth("sk")
            .json(&speech)
            .send()
            .await
            .unwrap();
        let mut s = resp.bytes_stream();
        while let Some(c) = s.next().await {
            c.unwrap();
        }
        let bare_t = t.elapsed();
        let t = Instant::now();
        let mut s = providers.speak(&call(), "Hello there.").await.unwrap();
        while let Some(c) = s.next().await {
            c.unwrap();
        }
        let guarded_t = t.elapsed();
        if i >= 20 {
            bare_chat.push(bare);
            guarded_chat.push(guarded);
            bare_tts.push(bare_t);
            guarded_tts.push(guarded_t);
        }
    }
    println!("== guard overhead per call ({calls} calls each, fake provider on loopback, same run)");
    let a = report("chat, bare reqwest (read to end)", bare_chat);
    let b = report("chat, Providers::chat (guarded)", guarded_chat);
    println!("{:<34} p50 {:>+8.1} µs", "chat overhead", us(b) - us(a));
    let a = report("speech, bare reqwest (read to end)", bare_tts);
    let b = report("speech, Providers::speak (guarded)", guarded_tts);
    println!(
        "{:<34} p50 {:>+8.1} µs  (includes 24→48 kHz upsampling of 0.5 s)",
        "speech overhead",
        us(b) - us(a)
    );
}

fn sse_throughput() {
    let mut stream = Vec::new();
    let words = ["Hello", " there", ",", " how", " can", " I", " help", " you", " today", "?"];
    for i in 0..100_000 {
        let c = json!({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": words[i % words.len()]}, "finish_reason": null}]});
        stream.extend_from_slice(format!("data: {c}\n\n").as_bytes());
    }
    let mb = stream.len() as f64 / 1e6;
    println!("== SSE parse throughput ({mb:.1} MB of chat chunks fed in 1400-byte pieces)");
    for with_json in [false, true] {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let mut p = SseParser::default();
            let mut events = 0usize;
            for piece in stream.chunks(1400) {
                p.feed(piece);
                while let Some(ev) = p.next_event() {
                    let ev = ev.unwrap();
                    if with_json {
                        events += parse_chunk(&ev.data).unwrap().len();
                    } else {
                        events += 1;
                    }
                }
            }
            assert_eq!(events, 100_000);
            best = best.min(t.elapsed().as_secs_f64());
        }
        let what = if with_json { "SSE + chunk JSON" } else { "SSE events only" };
        println!("{what:<34} {:>8.0} MB/s  ({:.0} ns/event)", mb / best, best * 1e9 / 100_000.0);
    }
}

fn first_frame() {
    println!("== TTS first byte → first 48 kHz PCM ready (decode + upsample one network chunk)");
    for bytes in [480usize, 4800, 16_384] {
        let chunk: Vec<u8> = (0..bytes).map(|i| (i * 31 % 251) as u8).collect();
        let mut times = Vec::new();
        for _ in 0..2000 {
            let t = Instant::now();
            let mut dec = PcmDecoder::default();
            let mut up = Upsampler2x::new();
            let mut s = Vec::new();
            dec.decode(&chunk, &mut s);
            let mut out = Vec::new();
            up.process(&s, &mut out);
            std::hint::black_box(&out);
            times.push(t.elapsed());
        }
        report(&format!("chunk of {bytes} B ({} ms audio)", bytes / 48), times);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; this bench has no test cases
    }
    let calls = env_usize("CALLS", 300);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(guard_overhead(calls));
    sse_throughput();
    first_frame();
}
