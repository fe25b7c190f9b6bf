use std::time::Instant;

use data_stream::{ByteHeader, Chunk, Header, TextHeader, Trailer};

use super::*;
use crate::clock;

fn text_header(id: &str, topic: &str) -> Header {
    Header {
        stream_id: id.into(),
        topic: topic.into(),
        mime_type: "text/plain".into(),
        content_header: Some(ContentHeader::TextHeader(TextHeader::default())),
        ..Default::default()
    }
}

fn byte_header(id: &str) -> Header {
    Header {
        stream_id: id.into(),
        topic: TOPIC_PRE_CONNECT_AUDIO.into(),
        mime_type: "audio/pcm".into(),
        attributes: [("trackId".to_owned(), "TR_1".to_owned())].into(),
        content_header: Some(ContentHeader::ByteHeader(ByteHeader { name: "preconnect-buffer".into() })),
        ..Default::default()
    }
}

fn chunk(id: &str, index: u64, content: &[u8]) -> Chunk {
    Chunk { stream_id: id.into(), chunk_index: index, content: content.to_vec(), ..Default::default() }
}

fn trailer(id: &str) -> Trailer {
    Trailer { stream_id: id.into(), ..Default::default() }
}

fn small() -> Limits {
    Limits { max_text_bytes: 10, max_bytes: 8, max_open: 3, max_open_per_sender: 2, ..Limits::default() }
}

#[test]
fn a_chat_stream_is_delivered_at_its_trailer() {
    let now = clock::now();
    let mut r = Reassembler::new(Limits::default());
    assert!(r.header("ann", text_header("s1", TOPIC_CHAT), now).is_none());
    assert!(r.chunk("ann", chunk("s1", 0, "Hello, ".as_bytes())).is_none());
    assert!(r.chunk("ann", chunk("s1", 1, "wörld".as_bytes())).is_none());
    // Someone else's trailer for the same id does not end it.
    assert!(r.trailer("bob", trailer("s1")).is_none());
    let got = r.trailer("ann", trailer("s1")).expect("complete").expect("delivered");
    assert_eq!(
        got,
        Received::Text {
            from: "ann".into(),
            topic: TOPIC_CHAT.into(),
            text: "Hello, wörld".into(),
            truncated: false
        }
    );
    assert_eq!(r.open_streams(), 0);
}

#[test]
fn other_topics_and_kinds_are_not_buffered() {
    let now = clock::now();
    let mut r = Reassembler::new(Limits::default());
    assert!(r.header("ann", text_header("s1", "lk.transcription"), now).is_none());
    assert!(
        r.header("ann", text_header("s2", TOPIC_PRE_CONNECT_AUDIO), now).is_none(),
        "text on a byte topic"
    );
    let mut bytes_on_chat = byte_header("s3");
    bytes_on_chat.topic = TOPIC_CHAT.into();
    assert!(r.header("ann", bytes_on_chat, now).is_none());
    assert!(r.chunk("ann", chunk("s1", 0, b"x")).is_none());
    assert_eq!(r.open_streams(), 0);
}

#[test]
fn inline_content_is_delivered_at_once() {
    let now = clock::now();
    let mut r = Reassembler::new(Limits::default());
    let mut h = text_header("s1", TOPIC_CHAT);
    h.inline_content = Some(b"hi there".to_vec());
    let got = r.header("ann", h, now).expect("complete").expect("delivered");
    assert!(matches!(got, Received::Text { text, .. } if text == "hi there"));
    let mut compressed = text_header("s2", TOPIC_CHAT);
    compressed.compression = data_stream::CompressionType::DeflateRaw as i32;
    assert_eq!(r.header("ann", compressed, now), Some(Err(Dropped::Aborted)));
}

#[test]
fn long_text_is_cut_on_a_character_boundary_and_marked() {
    let now = clock::now();
    let mut r = Reassembler::new(small());
    r.header("ann", text_header("s1", TOPIC_CHAT), now);
    // 9 bytes, then "ä" (2 bytes) would cross the 10-byte bound.
    r.chunk("ann", chunk("s1", 0, b"123456789"));
    r.chunk("ann", chunk("s1", 1, "äöü".as_bytes()));
    assert!(r.buffered_bytes() <= 10);
    let got = r.trailer("ann", trailer("s1")).unwrap().unwrap();
    assert_eq!(
        got,
        Received::Text {
            from: "ann".into(),
            topic: TOPIC_CHAT.into(),
            text: "123456789".into(),
            truncated: true
        }
    );
}

#[test]
fn byte_streams_keep_attributes_and_too_large_ones_are_dropped() {
    let now = clock::now();
    let mut r = Reassembler::new(small());
    r.header("ann", byte_header("a1"), now);
    r.chunk("ann", chunk("a1", 0, &[1, 2, 3]));
    let mut t = trailer("a1");
    t.attributes.insert("extra".into(), "1".into());
    let Received::Bytes { bytes, attributes, mime_type, .. } = r.trailer("ann", t).unwrap().unwrap() else {
        panic!("not bytes")
    };
    assert_eq!((bytes, mime_type.as_str()), (vec![1, 2, 3], "audio/pcm"));
    assert_eq!((attributes["trackId"].as_str(), attributes["extra"].as_str()), ("TR_1", "1"));

    r.header("ann", byte_header("a2"), now);
    assert!(r.chunk("ann", chunk("a2", 0, &[0; 5])).is_none());
    assert_eq!(r.chunk("ann", chunk("a2", 1, &[0; 5])), Some(Dropped::TooLarge));
    assert_eq!(r.open_streams(), 0, "dropped at once, not held until its trailer");
    assert!(r.trailer("ann", trailer("a2")).is_none());
}

#[test]
fn out_of_order_chunks_are_skipped_and_aborted_streams_are_not_delivered() {
    let now = clock::now();
    let mut r = Reassembler::new(Limits::default());
    r.header("ann", text_header("s1", TOPIC_CHAT), now);
    r.chunk("ann", chunk("s1", 1, b"late"));
    r.chunk("bob", chunk("s1", 0, b"foreign"));
    r.chunk("ann", chunk("s1", 0, b"first"));
    let mut t = trailer("s1");
    t.reason = "cancelled".into();
    assert_eq!(r.trailer("ann", t), Some(Err(Dropped::Aborted)));
    assert_eq!(r.open_streams(), 0);
}

#[test]
fn open_streams_are_bounded_per_sender_and_in_all() {
    let now = clock::now();
    let mut r = Reassembler::new(small());
    assert!(r.header("ann", text_header("a1", TOPIC_CHAT), now).is_none());
    assert!(r.header("ann", text_header("a2", TOPIC_CHAT), now).is_none());
    assert_eq!(r.header("ann", text_header("a3", TOPIC_CHAT), now), Some(Err(Dropped::TooMany)));
    assert!(r.header("bob", text_header("b1", TOPIC_CHAT), now).is_none());
    assert_eq!(r.header("cat", text_header("c1", TOPIC_CHAT), now), Some(Err(Dropped::TooMany)));
    assert_eq!(r.open_streams(), 3);
    // Leaving frees a participant's streams.
    r.forget("ann");
    assert_eq!(r.open_streams(), 1);
    assert!(r.header("cat", text_header("c1", TOPIC_CHAT), now).is_none());
}

#[test]
fn streams_that_never_end_are_dropped_after_the_timeout() {
    let t0: Instant = clock::now();
    let limits = Limits::default();
    let mut r = Reassembler::new(limits);
    r.header("ann", text_header("s1", TOPIC_CHAT), t0);
    r.chunk("ann", chunk("s1", 0, b"never ends"));
    r.header("ann", text_header("s2", TOPIC_CHAT), t0 + limits.timeout / 2);
    assert_eq!(r.deadline(), Some(t0 + limits.timeout));
    assert_eq!(r.handle_timeout(t0 + limits.timeout / 2), 0);
    assert_eq!(r.handle_timeout(t0 + limits.timeout), 1);
    assert_eq!(r.open_streams(), 1);
    assert!(r.trailer("ann", trailer("s1")).is_none(), "a late trailer delivers nothing");
    assert_eq!(r.handle_timeout(t0 + limits.timeout * 2), 1);
    assert_eq!((r.open_streams(), r.deadline()), (0, None));
}

#[test]
fn legacy_chat_packets() {
    assert_eq!(legacy::parse(br#"{"id":"1","timestamp":5,"message":"hi"}"#).as_deref(), Some("hi"));
    assert_eq!(legacy::parse(br#"{"id":"1","message":"dup","ignoreLegacy":true}"#), None);
    assert_eq!(legacy::parse(br#"{"id":"1","message":"x","ignoreLegacy":false}"#).as_deref(), Some("x"));
    assert_eq!(legacy::parse(b"not json"), None);
    assert_eq!(legacy::parse(br#"{"id":"1"}"#), None);
}
