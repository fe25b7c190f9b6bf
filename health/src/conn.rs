//! One client connection as a state machine, without sockets: bytes in, requests and reply
//! bytes out, time passed in.
//!
//! Each request has one deadline from the moment the connection starts waiting for it until
//! its reply is fully written (slow headers, a slow reader and an idle keep-alive all count
//! against the same clock). One request is answered at a time, so pipelined requests are
//! answered in order, and at most [`MAX_HEAD_BYTES`] are buffered.

use crate::head::{self, MAX_HEAD_BYTES, Parsed, RequestHead};

/// How long a refused connection's unread input is discarded before closing, so the client
/// reads the refusal instead of a reset.
const LINGER_MS: u64 = 500;
/// Most bytes discarded while lingering.
pub(crate) const LINGER_BYTES: usize = 64 * 1024;

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Waiting for (the rest of) a request head.
    Reading,
    /// A request is being answered elsewhere.
    Answering,
    /// Reply bytes are being written.
    Writing,
    /// The reply was sent and our side shut; discarding what the client still sends.
    Lingering,
    /// Done: drop the socket.
    Closed,
}

/// A connection's protocol state.
#[derive(Debug)]
pub(crate) struct Conn {
    state: State,
    /// Received, not yet parsed bytes (≤ [`MAX_HEAD_BYTES`]).
    inbuf: Vec<u8>,
    out: Vec<u8>,
    written: usize,
    close_after: bool,
    lingered: usize,
    /// Replies fully written on this connection.
    served: u64,
    /// When the current request started being waited for.
    since_ms: u64,
    deadline_ms: u64,
    timeout_ms: u64,
}

/// What [`Conn::poll_request`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Read more bytes.
    NeedBytes,
    /// Answer this request, then call [`Conn::reply`].
    Request(RequestHead),
    /// The head was refused; the refusal is queued for writing.
    Refused(u16),
    /// Nothing to do in this state.
    Busy,
}

impl Conn {
    /// A new connection accepted at `now_ms`; each request gets `timeout_ms`.
    pub(crate) fn new(now_ms: u64, timeout_ms: u64) -> Self {
        Self {
            state: State::Reading,
            inbuf: Vec::new(),
            out: Vec::new(),
            written: 0,
            close_after: false,
            lingered: 0,
            served: 0,
            since_ms: now_ms,
            deadline_ms: now_ms.saturating_add(timeout_ms),
            timeout_ms,
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// When the connection started waiting for its current request (eviction picks the oldest).
    pub(crate) fn since_ms(&self) -> u64 {
        self.since_ms
    }

    /// Whether this connection has had a reply: a kept-alive client, not a fresh one.
    pub(crate) fn served(&self) -> bool {
        self.served > 0
    }

    /// Whether some bytes of a request have arrived (a timeout then earns a 408).
    pub(crate) fn has_partial_request(&self) -> bool {
        self.state == State::Reading && !self.inbuf.is_empty()
    }

    /// How many more bytes may be read now (0: do not read).
    pub(crate) fn room(&self) -> usize {
        match self.state {
            State::Reading => MAX_HEAD_BYTES - self.inbuf.len(),
            State::Lingering => LINGER_BYTES.saturating_sub(self.lingered),
            _ => 0,
        }
    }

    /// Takes bytes read from the socket (at most [`Conn::room`]).
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        match self.state {
            State::Reading => {
                let take = bytes.len().min(self.room());
                self.inbuf.extend_from_slice(&bytes[..take]);
            }
            State::Lingering => {
                self.lingered += bytes.len();
                if self.lingered >= LINGER_BYTES {
                    self.state = State::Closed;
                }
            }
            _ => {}
        }
    }

    /// The peer closed its side.
    pub(crate) fn peer_closed(&mut self) {
        // A request being answered is still answered; the write finds out if it cannot be.
        if matches!(self.state, State::Reading | State::Lingering) {
            self.state = State::Closed;
        }
    }

    /// Looks for the next request in the buffered bytes.
    pub(crate) fn poll_request(&mut self) -> Next {
        if self.state != State::Reading {
            return Next::Busy;
        }
        match head::parse(&self.inbuf) {
            Parsed::Partial => Next::NeedBytes,
            Parsed::Request(req) => {
                self.inbuf.drain(..req.len);
                self.state = State::Answering;
                self.close_after = !req.keep_alive;
                Next::Request(req)
            }
            Parsed::Refused(r) => {
                self.inbuf = Vec::new();
                self.queue(head::encode_refusal(r), true);
                Next::Refused(r.status)
            }
        }
    }

    /// The answer to the request handed out by [`Conn::poll_request`]; `close` when the
    /// reply already says `Connection: close`.
    pub(crate) fn reply(&mut self, bytes: Vec<u8>, close: bool) {
        if self.state == State::Answering {
            let close = close || self.close_after;
            self.queue(bytes, close);
        }
    }

    fn queue(&mut self, bytes: Vec<u8>, close: bool) {
        self.out = bytes;
        self.written = 0;
        self.close_after = close;
        self.state = State::Writing;
    }

    /// Reply bytes still to write.
    pub(crate) fn pending(&self) -> &[u8] {
        if self.state == State::Writing { &self.out[self.written..] } else { &[] }
    }

    /// `n` reply bytes were written at `now_ms`. Returns true when our side should now be
    /// shut for writing (a closing reply is complete).
    pub(crate) fn wrote(&mut self, n: usize, now_ms: u64) -> bool {
        if self.state != State::Writing {
            return false;
        }
        self.written = (self.written + n).min(self.out.len());
        if self.written < self.out.len() {
            return false;
        }
        self.out = Vec::new();
        self.written = 0;
        self.served += 1;
        if self.close_after {
            self.state = State::Lingering;
            self.deadline_ms = self.deadline_ms.min(now_ms.saturating_add(LINGER_MS));
            return true;
        }
        self.state = State::Reading;
        self.since_ms = now_ms;
        self.deadline_ms = now_ms.saturating_add(self.timeout_ms);
        false
    }

    /// Whether the deadline has passed at `now_ms`.
    pub(crate) fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.deadline_ms
    }

    /// Ends the connection (deadline, eviction, IO error).
    pub(crate) fn close(&mut self) {
        self.state = State::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";

    #[test]
    fn pipelined_requests_are_answered_one_at_a_time_in_order() {
        let mut c = Conn::new(0, 1000);
        let mut two = GET.to_vec();
        two.extend_from_slice(b"GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
        c.received(&two);
        let Next::Request(first) = c.poll_request() else { panic!() };
        assert_eq!(first.path(), "/healthz");
        assert_eq!(c.poll_request(), Next::Busy, "the second waits for the first reply");
        c.reply(b"one".to_vec(), false);
        assert_eq!(c.pending(), b"one");
        assert!(!c.wrote(3, 100));
        assert_eq!((c.state(), c.deadline_ms()), (State::Reading, 1100), "deadline restarts");
        assert!(c.served());
        let Next::Request(second) = c.poll_request() else { panic!() };
        assert_eq!((second.path(), second.keep_alive), ("/readyz", false));
        c.reply(b"two".to_vec(), false);
        assert!(c.wrote(3, 200), "Connection: close shuts our side after the reply");
        assert_eq!(c.state(), State::Lingering);
        assert_eq!(c.deadline_ms(), 700);
    }

    #[test]
    fn the_deadline_covers_the_whole_request_not_each_read() {
        let mut c = Conn::new(0, 1000);
        for t in (0..1000).step_by(100) {
            assert!(!c.expired(t));
            c.received(b"G"); // a byte at a time: a slowloris
            assert_eq!(c.poll_request(), Next::NeedBytes);
        }
        assert!(c.expired(1000));
        assert!(c.has_partial_request());
    }

    #[test]
    fn a_declared_body_is_refused_and_the_connection_closes() {
        let mut c = Conn::new(0, 1000);
        c.received(b"GET /healthz HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nabc");
        assert_eq!(c.poll_request(), Next::Refused(413));
        assert!(c.pending().starts_with(b"HTTP/1.1 413 "));
        let n = c.pending().len();
        assert!(c.wrote(n, 10));
        assert_eq!(c.room(), LINGER_BYTES);
        c.received(&[0; LINGER_BYTES]);
        assert_eq!(c.state(), State::Closed, "lingering is bounded in bytes");
    }

    #[test]
    fn buffering_stops_at_the_head_limit() {
        let mut c = Conn::new(0, 1000);
        c.received(&vec![b'a'; MAX_HEAD_BYTES * 2]);
        assert_eq!(c.room(), 0);
        assert_eq!(c.poll_request(), Next::Refused(431));
        let mut c = Conn::new(0, 1000);
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD_BYTES, b'a');
        c.received(&big);
        assert_eq!(c.poll_request(), Next::Refused(431));
    }

    #[test]
    fn peer_close_while_answering_still_gets_the_reply_written() {
        let mut c = Conn::new(0, 1000);
        c.received(GET);
        assert!(matches!(c.poll_request(), Next::Request(_)));
        c.peer_closed();
        assert_eq!(c.state(), State::Answering);
        c.reply(b"x".to_vec(), true);
        assert_eq!(c.pending(), b"x");
    }
}
