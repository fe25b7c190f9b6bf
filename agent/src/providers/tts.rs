//! Speech synthesis, streamed: the OpenAI-compatible request (`response_format: pcm`, raw
//! s16le 24 kHz mono) and [`SpeechStream`], which yields 48 kHz mono chunks as bytes arrive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Capability;
use super::config::EndpointConfig;
use super::config::TtsOptions;
use super::endpoint::Lease;
use super::error::{Failure, ProviderError};
use super::guard::Guard;
use super::http::error_chain;
use super::pcm::{PcmDecoder, Upsampler2x};
use super::settle::Settlement;
use crate::clock;
use crate::core::breaker::Outcome;
use crate::core::quota::Usage;

/// The provider's sample rate for `response_format: pcm`.
pub const PROVIDER_RATE: u32 = 24_000;

/// The request body.
pub(crate) fn request(
    ep: &EndpointConfig,
    http: &reqwest::Client,
    text: &str,
    o: &TtsOptions,
) -> reqwest::RequestBuilder {
    let mut body = json!({
        "model": ep.model,
        "input": text,
        "voice": o.voice,
        "response_format": "pcm",
    });
    if let Some(s) = o.speed {
        body["speed"] = json!(s);
    }
    let mut req = http.post(format!("{}/audio/speech", ep.base_url)).json(&body);
    if let Some(k) = &ep.api_key {
        req = req.bearer_auth(k.expose());
    }
    req
}

/// Content types a PCM answer may carry (servers differ); JSON, HTML or text mean an error page.
pub(crate) fn accepts_content_type(ct: &str) -> bool {
    ct.is_empty()
        || ct.starts_with("audio/")
        || ct == "application/octet-stream"
        || ct == "binary/octet-stream"
}

/// Streamed speech. Dropping it closes the connection at once.
pub struct SpeechStream {
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    decoder: PcmDecoder,
    upsampler: Upsampler2x,
    scratch: Vec<i16>,
    lease: Option<Lease>,
    provider: Arc<str>,
    model: String,
    guard: Arc<Guard>,
    settlement: Settlement,
    usage: Usage,
    cancel: CancellationToken,
    idle: Duration,
    slow: Duration,
    started: Instant,
    first_byte: Option<Duration>,
    samples_left: u64,
    done: bool,
}

pub(crate) struct SpeechParts {
    pub resp: reqwest::Response,
    pub lease: Lease,
    pub started: Instant,
    pub guard: Arc<Guard>,
    pub settlement: Settlement,
    pub usage: Usage,
    pub cancel: CancellationToken,
    pub idle: Duration,
    pub slow: Duration,
    pub max_audio: Duration,
}

impl SpeechStream {
    pub(crate) fn new(p: SpeechParts) -> Self {
        let ep = Arc::clone(p.lease.endpoint());
        Self {
            body: Some(p.resp.bytes_stream().boxed()),
            decoder: PcmDecoder::default(),
            upsampler: Upsampler2x::new(),
            scratch: Vec::new(),
            lease: Some(p.lease),
            provider: Arc::clone(&ep.name),
            model: ep.cfg.model.clone(),
            guard: p.guard,
            settlement: p.settlement,
            usage: p.usage,
            cancel: p.cancel,
            idle: p.idle,
            slow: p.slow,
            started: p.started,
            first_byte: None,
            samples_left: (p.max_audio.as_secs_f64() * f64::from(PROVIDER_RATE)) as u64,
            done: false,
        }
    }

    /// The endpoint serving this speech.
    pub fn provider(&self) -> &Arc<str> {
        &self.provider
    }

    /// Time from the request to the first audio byte.
    pub fn first_byte_latency(&self) -> Option<Duration> {
        self.first_byte
    }

    /// The next chunk of 48 kHz mono samples; `None` when the speech is complete.
    pub async fn next(&mut self) -> Option<Result<Vec<i16>, ProviderError>> {
        loop {
            if self.done {
                return None;
            }
            let body = self.body.as_mut()?;
            let next = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Some(Err(self.fail(Failure::Cancelled).await)),
                n = tokio::time::timeout(self.idle, body.next()) => n,
            };
            let bytes = match next {
                Err(_) => return Some(Err(self.fail(Failure::Timeout).await)),
                Ok(Some(Err(e))) => return Some(Err(self.fail(Failure::Cut(error_chain(&e))).await)),
                Ok(None) => return self.finish().await,
                Ok(Some(Ok(bytes))) => bytes,
            };
            if bytes.is_empty() {
                continue;
            }
            if self.first_byte.is_none() {
                let d = clock::now().saturating_duration_since(self.started);
                self.first_byte = Some(d);
                self.guard.metrics.first_byte(Capability::Tts, &self.provider, d);
            }
            self.scratch.clear();
            self.decoder.decode(&bytes, &mut self.scratch);
            let n = self.scratch.len() as u64;
            if n > self.samples_left {
                return Some(Err(self
                    .fail(Failure::Malformed("more audio than TTS_MAX_AUDIO_SECS".into()))
                    .await));
            }
            self.samples_left -= n;
            if n == 0 {
                continue;
            }
            let mut out = Vec::with_capacity(self.scratch.len() * 2);
            self.upsampler.process(&self.scratch, &mut out);
            return Some(Ok(out));
        }
    }

    async fn finish(&mut self) -> Option<Result<Vec<i16>, ProviderError>> {
        if self.decoder.finish().is_err() {
            return Some(Err(self.fail(Failure::Malformed("odd number of PCM bytes".into())).await));
        }
        self.done = true;
        self.body = None;
        let now = clock::now();
        let slow = self.first_byte.is_none_or(|d| d > self.slow);
        if let Some(lease) = self.lease.take() {
            lease.finish(if slow { Outcome::Slow } else { Outcome::Success }, now);
        }
        self.guard.metrics.served(
            Capability::Tts,
            &self.provider,
            now.saturating_duration_since(self.started),
        );
        self.settlement.settle(&self.model, self.usage).await;
        let mut tail = Vec::new();
        self.upsampler.flush(&mut tail);
        (!tail.is_empty()).then_some(Ok(tail))
    }

    async fn fail(&mut self, f: Failure) -> ProviderError {
        self.done = true;
        self.body = None;
        if let Some(lease) = self.lease.take() {
            self.guard.fail(lease, &f).await;
        }
        // The provider bills the characters of a request it answered.
        self.settlement.settle(&self.model, self.usage).await;
        f.into_stream_error(&self.provider)
    }
}

impl Drop for SpeechStream {
    fn drop(&mut self) {
        self.body = None;
        self.lease = None;
        self.settlement.settle_later(&self.model, self.usage);
    }
}
