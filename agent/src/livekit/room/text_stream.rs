//! LiveKit text streams: how current LiveKit front ends receive chat and transcriptions.
//!
//! A stream is a `DataPacket` with a `stream_header` (id, topic, attributes, text header),
//! then `stream_chunk`s of UTF-8 text in order, then a `stream_trailer`. Clients register a
//! handler per topic (`registerTextStreamHandler` / `register_text_stream_handler`) and read
//! the chunks as they come. Topics the agent uses: `lk.transcription` (both sides'
//! transcripts, attributes `lk.transcribed_track_id`, `lk.segment_id`,
//! `lk.transcription_final`) and `lk.chat` (text replies). Chunks stay below the 15 kB that
//! LiveKit clients expect per packet, cut on character boundaries.

use std::collections::HashMap;

use livekit_protocol as proto;
use proto::data_packet::Value;
use proto::data_stream;
use tokio::sync::mpsc;

use super::outgoing::{OutgoingData, OutgoingPacket, RoomClosed};
use crate::clock;

/// Largest chunk payload in bytes.
const MAX_CHUNK: usize = 15_000;

/// Attribute naming the transcribed audio track.
pub const ATTR_TRACK_ID: &str = "lk.transcribed_track_id";
/// Attribute naming the transcript segment (one per utterance or answer).
pub const ATTR_SEGMENT_ID: &str = "lk.segment_id";
/// Attribute saying whether the transcript is final (`"true"`/`"false"`).
pub const ATTR_FINAL: &str = "lk.transcription_final";
/// Topic of transcriptions.
pub const TOPIC_TRANSCRIPTION: &str = "lk.transcription";
/// Topic of chat messages.
pub const TOPIC_CHAT: &str = "lk.chat";

/// How to open a stream.
#[derive(Debug, Clone, Default)]
pub struct TextStreamOptions {
    /// Attributes for the header.
    pub attributes: HashMap<String, String>,
    /// Send in the name of this participant (a user's transcript); empty: the agent.
    pub sender: String,
    /// The text was generated from a participant's speech (a transcription).
    pub generated: bool,
}

/// Opens text streams in a room (cheap to clone).
#[derive(Debug, Clone)]
pub struct TextStreams {
    tx: mpsc::Sender<OutgoingData>,
}

impl TextStreams {
    pub(super) fn new(tx: mpsc::Sender<OutgoingData>) -> Self {
        Self { tx }
    }

    /// Opens a stream on `topic` to everyone.
    pub async fn open(&self, topic: &str, options: TextStreamOptions) -> Result<TextStream, RoomClosed> {
        TextStream::open(self.tx.clone(), topic, options).await
    }

    /// Sends `text` as one complete stream.
    pub async fn send(&self, topic: &str, text: &str, options: TextStreamOptions) -> Result<(), RoomClosed> {
        let mut stream = self.open(topic, options).await?;
        stream.write(text).await?;
        stream.close("").await
    }
}

/// An open text stream; write chunks, then [`TextStream::close`]. Dropping it without closing
/// leaves receivers waiting for a trailer, so close it (with a reason) on every path.
#[derive(Debug)]
pub struct TextStream {
    tx: mpsc::Sender<OutgoingData>,
    id: String,
    sender: String,
    next_chunk: u64,
}

impl TextStream {
    async fn open(
        tx: mpsc::Sender<OutgoingData>,
        topic: &str,
        options: TextStreamOptions,
    ) -> Result<Self, RoomClosed> {
        let id = format!("{:032x}", rand::random::<u128>());
        let header = data_stream::Header {
            stream_id: id.clone(),
            timestamp: i64::try_from(clock::unix_now().as_millis()).unwrap_or(i64::MAX),
            topic: topic.to_owned(),
            mime_type: "text/plain".to_owned(),
            attributes: options.attributes,
            content_header: Some(data_stream::header::ContentHeader::TextHeader(data_stream::TextHeader {
                operation_type: data_stream::OperationType::Create as i32,
                generated: options.generated,
                ..Default::default()
            })),
            ..Default::default()
        };
        let stream = Self { tx, id, sender: options.sender, next_chunk: 0 };
        stream.send(Value::StreamHeader(header)).await?;
        Ok(stream)
    }

    /// The stream id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.next_chunk == 0
    }

    /// Appends text.
    pub async fn write(&mut self, text: &str) -> Result<(), RoomClosed> {
        for piece in chunks(text) {
            let chunk = data_stream::Chunk {
                stream_id: self.id.clone(),
                chunk_index: self.next_chunk,
                content: piece.as_bytes().to_vec(),
                ..Default::default()
            };
            self.next_chunk += 1;
            self.send(Value::StreamChunk(chunk)).await?;
        }
        Ok(())
    }

    /// Ends the stream; `reason` is empty for a normal end (else e.g. `"interrupted"`).
    pub async fn close(self, reason: &str) -> Result<(), RoomClosed> {
        self.close_with(reason, HashMap::new()).await
    }

    /// Ends the stream with attributes that receivers merge into the header's (e.g.
    /// `lk.transcription_final = "true"`).
    pub async fn close_with(
        self,
        reason: &str,
        attributes: HashMap<String, String>,
    ) -> Result<(), RoomClosed> {
        let trailer =
            data_stream::Trailer { stream_id: self.id.clone(), reason: reason.to_owned(), attributes };
        self.send(Value::StreamTrailer(trailer)).await
    }

    async fn send(&self, value: Value) -> Result<(), RoomClosed> {
        let packet = OutgoingPacket::Stream { sender: self.sender.clone(), value: Box::new(value) };
        self.tx.send(OutgoingData { packet, destinations: Vec::new() }).await.map_err(|_| RoomClosed)
    }
}

/// `text` in pieces of at most [`MAX_CHUNK`] bytes, on character boundaries.
fn chunks(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len().min(MAX_CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        rest = tail;
        Some(head)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_is_header_chunks_trailer_in_order() {
        let (tx, mut rx) = mpsc::channel(16);
        let options = TextStreamOptions {
            attributes: [(ATTR_FINAL.to_owned(), "true".to_owned())].into(),
            sender: "alice".into(),
            generated: true,
        };
        let mut s = TextStream::open(tx, TOPIC_TRANSCRIPTION, options).await.unwrap();
        s.write("Hello ").await.unwrap();
        s.write(&"ä".repeat(10_000)).await.unwrap();
        let id = s.id().to_owned();
        s.close("").await.unwrap();
        let mut got = Vec::new();
        while let Ok(d) = rx.try_recv() {
            let OutgoingPacket::Stream { sender, value } = d.packet else { panic!("not a stream packet") };
            assert_eq!(sender, "alice");
            got.push(*value);
        }
        let Value::StreamHeader(h) = &got[0] else { panic!("{:?}", got[0]) };
        assert_eq!((h.stream_id.as_str(), h.topic.as_str()), (id.as_str(), TOPIC_TRANSCRIPTION));
        assert_eq!(h.attributes[ATTR_FINAL], "true");
        let mut text = Vec::new();
        for (i, v) in got[1..got.len() - 1].iter().enumerate() {
            let Value::StreamChunk(c) = v else { panic!("{v:?}") };
            assert_eq!(c.chunk_index, i as u64);
            assert!(c.content.len() <= MAX_CHUNK);
            text.extend_from_slice(&c.content);
        }
        assert_eq!(got.len(), 5, "header, 3 chunks (20 006 bytes), trailer");
        assert_eq!(String::from_utf8(text).unwrap(), format!("Hello {}", "ä".repeat(10_000)));
        assert!(
            matches!(got.last(), Some(Value::StreamTrailer(t)) if t.stream_id == id && t.reason.is_empty())
        );
    }
}
