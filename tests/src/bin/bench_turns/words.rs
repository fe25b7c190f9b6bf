//! The words a pause's transcript holds: a fixed word (instant STT, the default mode), or what
//! the local stack's Whisper hears in the utterance's audio (`--whisper`).
//!
//! Whisper's answers are cached by the audio: the smart modes cut the same files into the same
//! utterances, so each one is transcribed once per run of the benchmark.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use voice_agent_tests::local_stack::{Engine, LocalStack, client, wav_bytes};

/// Where transcripts come from.
pub enum Words {
    /// Every utterance is "words", ready at once.
    Fixed,
    /// The local stack's Whisper.
    Whisper(Box<Whisper>),
}

/// The local stack's STT engine and the answers it gave.
pub struct Whisper {
    /// Kept for its drop: stops the engine.
    stack: LocalStack,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// Deliver each transcript after the time Whisper really took (else at once).
    timed: bool,
    cache: HashMap<u64, (String, Duration)>,
    /// Wall time of each call made.
    pub calls: Vec<Duration>,
}

impl Words {
    /// Starts the local stack's STT engine alone (the others are not needed).
    pub fn whisper(timed: bool) -> Self {
        let stack = LocalStack::start_only(&[Engine::Stt]);
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("HTTP client");
        Self::Whisper(Box::new(Whisper {
            stack,
            runtime,
            http,
            timed,
            cache: HashMap::new(),
            calls: Vec::new(),
        }))
    }

    /// The transcript of `pcm` (16 kHz mono) and how long after the utterance's end it is
    /// delivered.
    pub fn transcribe(&mut self, pcm: &[i16]) -> (String, Duration) {
        let Self::Whisper(w) = self else { return ("words".into(), Duration::ZERO) };
        let mut h = DefaultHasher::new();
        pcm.hash(&mut h);
        let key = h.finish();
        if !w.cache.contains_key(&key) {
            let url = w.stack.base_url(Engine::Stt);
            let heard = w
                .runtime
                .block_on(client::transcribe(&w.http, &url, wav_bytes(pcm, 16_000)))
                .unwrap_or_else(|e| panic!("Whisper failed: {e}"));
            w.calls.push(heard.elapsed);
            w.cache.insert(key, (heard.text.trim().to_owned(), heard.elapsed));
        }
        let (text, took) = w.cache[&key].clone();
        (text, if w.timed { took } else { Duration::ZERO })
    }

    /// Whisper's calls so far (none for fixed words).
    pub fn calls(&self) -> &[Duration] {
        match self {
            Self::Fixed => &[],
            Self::Whisper(w) => &w.calls,
        }
    }
}
