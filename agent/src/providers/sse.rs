//! An incremental Server-Sent Events parser: fed bytes as they arrive, yields events.
//!
//! Sans-IO: [`SseParser::feed`] appends bytes, [`SseParser::next_event`] returns the next
//! complete event. Lines may end in `\n`, `\r\n` or `\r`, and a chunk may split a line, a
//! `\r\n` pair or a UTF-8 character anywhere: bytes are only decoded once a whole line is
//! there. A line or an event longer than the configured bound is an error, so a hostile or
//! broken server cannot make the buffer grow without limit.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// The byte stream is not acceptable SSE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line grew beyond the bound without ending.
    #[error("an event-stream line is longer than {max} bytes")]
    LineTooLong {
        /// The bound.
        max: usize,
    },
    /// An event's data grew beyond the bound.
    #[error("an event is larger than {max} bytes")]
    EventTooLarge {
        /// The bound.
        max: usize,
    },
    /// A line is not UTF-8.
    #[error("an event-stream line is not UTF-8")]
    NotUtf8,
}

/// The incremental parser.
#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    pos: usize,
    /// The last line ended in `\r`: a `\n` starting the next chunk belongs to it.
    skip_lf: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    max_line: usize,
    failed: bool,
}

/// Default bound on one line (and one event): 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

impl Default for SseParser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl SseParser {
    /// A parser refusing lines or events longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            skip_lf: false,
            data: String::new(),
            has_data: false,
            event: None,
            max_line: max_line.max(16),
            failed: false,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, `None` when more bytes are needed. After an error, every call
    /// returns that error kind again (the stream cannot be trusted any more).
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        if self.failed {
            return Some(Err(SseError::LineTooLong { max: self.max_line }));
        }
        loop {
            if self.skip_lf && self.pos < self.buf.len() {
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                }
                self.skip_lf = false;
            }
            let rest = &self.buf[self.pos..];
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                if rest.len() > self.max_line {
                    self.failed = true;
                    return Some(Err(SseError::LineTooLong { max: self.max_line }));
                }
                return None;
            };
            if end > self.max_line {
                self.failed = true;
                return Some(Err(SseError::LineTooLong { max: self.max_line }));
            }
            let cr = rest[end] == b'\r';
            let line_range = self.pos..self.pos + end;
            self.pos += end + 1;
            self.skip_lf = cr;
            if line_range.is_empty() {
                if let Some(ev) = self.dispatch() {
                    return Some(Ok(ev));
                }
                continue;
            }
            let Ok(line) = std::str::from_utf8(&self.buf[line_range]) else {
                return Some(Err(SseError::NotUtf8));
            };
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    if self.data.len() + value.len() + 1 > self.max_line {
                        self.data.clear();
                        self.has_data = false;
                        return Some(Err(SseError::EventTooLarge { max: self.max_line }));
                    }
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                "event" => self.event = Some(value.to_owned()),
                // Comments (`: keep-alive`), `id`, `retry` and unknown fields carry nothing we use.
                _ => {}
            }
        }
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent { event, data: std::mem::take(&mut self.data) })
    }

    /// Bytes buffered but not yet consumed (an unterminated final line).
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos + self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &mut SseParser) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(ev) = p.next_event() {
            out.push(ev.unwrap().data);
        }
        out
    }

    #[test]
    fn events_split_anywhere_give_the_same_result() {
        let text = "data: {\"a\":\"héllo ☃\"}\r\n\r\n: keep-alive\n\nevent: x\ndata: one\ndata: two\n\ndata:[DONE]\r\r";
        let bytes = text.as_bytes();
        let expect = vec!["{\"a\":\"héllo ☃\"}".to_owned(), "one\ntwo".to_owned(), "[DONE]".to_owned()];
        for step in 1..bytes.len() {
            let mut p = SseParser::default();
            let mut got = Vec::new();
            for c in bytes.chunks(step) {
                p.feed(c);
                got.extend(all(&mut p));
            }
            assert_eq!(got, expect, "chunks of {step}");
        }
    }

    #[test]
    fn event_name_is_kept_and_reset() {
        let mut p = SseParser::default();
        p.feed(b"event: error\ndata: boom\n\ndata: ok\n\n");
        let a = p.next_event().unwrap().unwrap();
        assert_eq!((a.event.as_deref(), a.data.as_str()), (Some("error"), "boom"));
        assert_eq!(p.next_event().unwrap().unwrap().event, None);
        assert!(p.next_event().is_none());
    }

    #[test]
    fn long_lines_and_bad_utf8_are_errors_not_growth() {
        let mut p = SseParser::new(64);
        p.feed(&[b'x'; 65]);
        assert_eq!(p.next_event(), Some(Err(SseError::LineTooLong { max: 64 })));
        assert!(matches!(p.next_event(), Some(Err(_))));
        let mut p = SseParser::new(64);
        for _ in 0..10 {
            p.feed(b"data: 0123456789\n");
        }
        assert_eq!(p.next_event(), Some(Err(SseError::EventTooLarge { max: 64 })));
        let mut p = SseParser::default();
        p.feed(b"data: \xff\xfe\n\n");
        assert_eq!(p.next_event(), Some(Err(SseError::NotUtf8)));
    }

    #[test]
    fn buffer_is_compacted() {
        let mut p = SseParser::default();
        for _ in 0..10_000 {
            p.feed(b"data: 0123456789\n\n");
            assert!(p.next_event().is_some());
        }
        assert!(p.buf.len() < 100, "{}", p.buf.len());
        assert_eq!(p.pending(), 0);
    }
}
