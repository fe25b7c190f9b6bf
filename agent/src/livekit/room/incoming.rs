//! Incoming LiveKit data streams, reassembled within bounds (sans-IO).
//!
//! A client sends a stream as a `stream_header` packet (id, topic, attributes, text or byte
//! header), `stream_chunk`s in order, and a `stream_trailer`; a header may also carry the
//! whole content inline (`inline_content`, data streams v2 — sent only to clients that announce
//! support, which we don't, but accepted all the same). Only the topics the agent uses are
//! kept: text streams on `lk.chat` (typed messages) and byte streams on
//! `lk.agent.pre-connect-audio-buffer` (what the user said before the agent joined). Anything
//! else is dropped at the header, without buffering.
//!
//! Memory stays bounded whatever senders do: at most [`Limits::max_open`] streams at once
//! ([`Limits::max_open_per_sender`] per participant), each kept to its topic's size
//! ([`Limits::max_text_bytes`] of text — the rest is cut and the message marked truncated —
//! or [`Limits::max_bytes`] of audio — a longer recording is dropped), and a stream that does
//! not end within [`Limits::timeout`] of its header is closed and forgotten.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use livekit_protocol::data_stream::{self, header::ContentHeader};

/// Topic of typed chat messages (`sendText(…, {topic: 'lk.chat'})`).
pub const TOPIC_CHAT: &str = "lk.chat";
/// Topic of the audio a front end recorded before the agent joined.
pub const TOPIC_PRE_CONNECT_AUDIO: &str = "lk.agent.pre-connect-audio-buffer";

/// Bounds on incoming streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of text kept per chat message (the rest is cut).
    pub max_text_bytes: usize,
    /// Bytes kept per byte stream (pre-connect audio); a longer one is dropped.
    pub max_bytes: usize,
    /// Streams open at once, all senders together.
    pub max_open: usize,
    /// Streams open at once from one sender.
    pub max_open_per_sender: usize,
    /// A stream must end this long after its header, or it is dropped.
    pub timeout: Duration,
}

impl Default for Limits {
    /// 64 KiB of text, 4 MiB of audio (20 s of 48 kHz stereo PCM, minutes of Opus), 16 streams
    /// (4 per sender), 15 s.
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_bytes: 4 * 1024 * 1024,
            max_open: 16,
            max_open_per_sender: 4,
            timeout: Duration::from_secs(15),
        }
    }
}

/// A complete stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A text stream.
    Text {
        /// Sender identity.
        from: String,
        /// Topic.
        topic: String,
        /// The text (cut to [`Limits::max_text_bytes`] on a character boundary).
        text: String,
        /// The sender sent more than was kept.
        truncated: bool,
    },
    /// A byte stream.
    Bytes {
        /// Sender identity.
        from: String,
        /// Topic.
        topic: String,
        /// MIME type the sender gave.
        mime_type: String,
        /// Header and trailer attributes.
        attributes: HashMap<String, String>,
        /// The content.
        bytes: Vec<u8>,
    },
}

/// Why a stream was not delivered (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Too many streams open (from this sender or in all).
    TooMany,
    /// A byte stream longer than [`Limits::max_bytes`].
    TooLarge,
    /// No trailer within [`Limits::timeout`].
    TimedOut,
    /// The sender closed it with an error reason.
    Aborted,
}

impl Dropped {
    /// A label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooMany => "too_many",
            Self::TooLarge => "too_large",
            Self::TimedOut => "timed_out",
            Self::Aborted => "aborted",
        }
    }
}

#[derive(Debug)]
struct Partial {
    from: String,
    topic: String,
    text: bool,
    mime_type: String,
    attributes: HashMap<String, String>,
    bytes: Vec<u8>,
    next_index: u64,
    truncated: bool,
    deadline: Instant,
}

/// Streams being received.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: Limits,
    open: HashMap<String, Partial>,
}

impl Reassembler {
    /// A reassembler with these bounds.
    pub fn new(limits: Limits) -> Self {
        Self { limits, open: HashMap::new() }
    }

    /// A stream header from `from`. A stream on a topic we use is opened (or delivered at
    /// once if its content is inline); others are ignored.
    pub fn header(
        &mut self,
        from: &str,
        header: data_stream::Header,
        now: Instant,
    ) -> Option<Result<Received, Dropped>> {
        let text = match (&header.content_header, header.topic.as_str()) {
            (Some(ContentHeader::TextHeader(_)), TOPIC_CHAT) => true,
            (Some(ContentHeader::ByteHeader(_)), TOPIC_PRE_CONNECT_AUDIO) => false,
            _ => return None,
        };
        if header.compression != data_stream::CompressionType::None as i32 {
            // We never announce support for compression, so no client should send it.
            return Some(Err(Dropped::Aborted));
        }
        let mut partial = Partial {
            from: from.to_owned(),
            topic: header.topic,
            text,
            mime_type: header.mime_type,
            attributes: header.attributes,
            bytes: Vec::new(),
            next_index: 0,
            truncated: false,
            deadline: now + self.limits.timeout,
        };
        if let Some(inline) = header.inline_content {
            if let Err(dropped) = self.append(&mut partial, &inline) {
                return Some(Err(dropped));
            }
            return Some(Ok(finish(partial)));
        }
        let from_sender = self.open.values().filter(|p| p.from == from).count();
        if self.open.len() >= self.limits.max_open || from_sender >= self.limits.max_open_per_sender {
            return Some(Err(Dropped::TooMany));
        }
        self.open.insert(header.stream_id, partial);
        None
    }

    /// A chunk; out-of-order, foreign or unknown chunks are ignored. A byte stream that grows
    /// past its bound is dropped (reported here).
    pub fn chunk(&mut self, from: &str, chunk: data_stream::Chunk) -> Option<Dropped> {
        let mut partial = self.open.remove(&chunk.stream_id)?;
        if partial.from != from || chunk.chunk_index != partial.next_index {
            tracing::debug!(stream = %chunk.stream_id, index = chunk.chunk_index, "stream chunk out of place");
            self.open.insert(chunk.stream_id, partial);
            return None;
        }
        partial.next_index += 1;
        match self.append(&mut partial, &chunk.content) {
            Ok(()) => {
                self.open.insert(chunk.stream_id, partial);
                None
            }
            Err(dropped) => Some(dropped),
        }
    }

    /// A trailer: the stream is complete (or aborted, if it carries a reason).
    pub fn trailer(
        &mut self,
        from: &str,
        trailer: data_stream::Trailer,
    ) -> Option<Result<Received, Dropped>> {
        if self.open.get(&trailer.stream_id).is_none_or(|p| p.from != from) {
            return None;
        }
        let mut partial = self.open.remove(&trailer.stream_id)?;
        if !trailer.reason.is_empty() {
            tracing::debug!(stream = %trailer.stream_id, reason = %trailer.reason, "stream aborted by its sender");
            return Some(Err(Dropped::Aborted));
        }
        partial.attributes.extend(trailer.attributes);
        Some(Ok(finish(partial)))
    }

    /// When the next open stream times out.
    pub fn deadline(&self) -> Option<Instant> {
        self.open.values().map(|p| p.deadline).min()
    }

    /// Drops the streams that have timed out; returns how many.
    pub fn handle_timeout(&mut self, now: Instant) -> usize {
        let before = self.open.len();
        self.open.retain(|id, p| {
            let keep = now < p.deadline;
            if !keep {
                tracing::info!(stream = %id, from = %p.from, topic = %p.topic, "incoming stream did not end in time; dropped");
            }
            keep
        });
        before - self.open.len()
    }

    /// The participant left: their unfinished streams go.
    pub fn forget(&mut self, from: &str) {
        self.open.retain(|_, p| p.from != from);
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.open.len()
    }

    /// Bytes held by open streams.
    pub fn buffered_bytes(&self) -> usize {
        self.open.values().map(|p| p.bytes.len()).sum()
    }

    fn append(&self, partial: &mut Partial, content: &[u8]) -> Result<(), Dropped> {
        let max = if partial.text { self.limits.max_text_bytes } else { self.limits.max_bytes };
        let room = max.saturating_sub(partial.bytes.len());
        if content.len() > room {
            if !partial.text {
                return Err(Dropped::TooLarge);
            }
            partial.truncated = true;
        }
        partial.bytes.extend_from_slice(&content[..content.len().min(room)]);
        Ok(())
    }
}

fn finish(partial: Partial) -> Received {
    if partial.text {
        let mut bytes = partial.bytes;
        // A cut may have split a character: keep the valid prefix.
        if let Err(e) = std::str::from_utf8(&bytes)
            && partial.truncated
            && e.error_len().is_none()
        {
            bytes.truncate(e.valid_up_to());
        }
        Received::Text {
            from: partial.from,
            topic: partial.topic,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            truncated: partial.truncated,
        }
    } else {
        Received::Bytes {
            from: partial.from,
            topic: partial.topic,
            mime_type: partial.mime_type,
            attributes: partial.attributes,
            bytes: partial.bytes,
        }
    }
}

/// A chat message in the legacy data-packet format older front ends send (user packet on
/// topic `lk-chat-topic`, JSON `{"id", "timestamp", "message", "ignoreLegacy"}`). Newer front
/// ends send both that and a text stream, marking the packet `ignoreLegacy: true`: those are
/// skipped, so a message is answered once.
pub mod legacy {
    /// Topic of legacy chat packets.
    pub const TOPIC: &str = "lk-chat-topic";

    #[derive(serde::Deserialize)]
    struct Packet {
        message: String,
        #[serde(default, rename = "ignoreLegacy")]
        ignore_legacy: bool,
    }

    /// The message text, unless the packet is malformed or marked to be ignored.
    pub fn parse(payload: &[u8]) -> Option<String> {
        let packet: Packet = serde_json::from_slice(payload).ok()?;
        (!packet.ignore_legacy).then_some(packet.message)
    }
}

#[cfg(test)]
#[path = "incoming_tests.rs"]
mod tests;
