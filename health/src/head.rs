//! Request heads, parsed from a bounded buffer with `httparse`, and the bytes of a reply.
//!
//! Nothing here allocates by what a client declares: the head must fit in [`MAX_HEAD_BYTES`],
//! at most [`MAX_HEADERS`] headers are looked at, and a declared body (`Content-Length` above
//! zero, any `Transfer-Encoding`) is refused by its declaration alone — never read.

use std::fmt::Write as _;

use crate::routes::{MAX_TARGET_LEN, Reply};

/// Largest request head (request line + headers) accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 32;

/// A complete request head the server will answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, as sent.
    pub method: String,
    /// The request target (path and query), at most [`MAX_TARGET_LEN`] bytes.
    pub target: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
    /// Bytes of the buffer this head used.
    pub len: usize,
}

impl RequestHead {
    /// `HEAD` gets the headers of `GET` and no body.
    pub fn head_only(&self) -> bool {
        self.method == "HEAD"
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("")
    }
}

/// A request refused before routing; the connection is closed after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Status to answer with.
    pub status: u16,
    /// One line for the body.
    pub reason: &'static str,
}

/// What the buffered bytes hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole head yet, and still within the limit: read more.
    Partial,
    /// A head to answer.
    Request(RequestHead),
    /// A request refused by its head alone.
    Refused(Refusal),
}

const fn refuse(status: u16, reason: &'static str) -> Parsed {
    Parsed::Refused(Refusal { status, reason })
}

/// Parses the start of `buf` (at most [`MAX_HEAD_BYTES`] are looked at).
pub fn parse(buf: &[u8]) -> Parsed {
    let buf = &buf[..buf.len().min(MAX_HEAD_BYTES)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
            return refuse(431, "request head larger than 8 KB");
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return refuse(431, "too many header lines"),
        Err(_) => return refuse(400, "not an HTTP/1.x request"),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return refuse(400, "not an HTTP/1.x request");
    };
    if target.len() > MAX_TARGET_LEN {
        return refuse(414, "request target too long");
    }
    let mut content_length: Option<&[u8]> = None;
    let mut keep_alive = version == 1;
    let mut authorization = None;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some_and(|v| v != h.value) {
                return refuse(400, "conflicting Content-Length headers");
            }
            content_length = Some(h.value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return refuse(413, "requests to this server carry no body");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("authorization") {
            authorization = std::str::from_utf8(h.value).ok().map(str::to_owned);
        }
    }
    if let Some(value) = content_length {
        // Digits only; the value is compared, never converted into a size.
        let value = value.trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return refuse(400, "invalid Content-Length");
        }
        if value.iter().any(|b| *b != b'0') {
            return refuse(413, "requests to this server carry no body");
        }
    }
    let request =
        RequestHead { method: method.to_owned(), target: target.to_owned(), authorization, keep_alive, len };
    Parsed::Request(request)
}

/// The standard reason phrase of the statuses this server sends.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Serialises `reply` (without its body when `head_only`); `close` adds `Connection: close`.
pub fn encode(reply: &Reply, head_only: bool, close: bool) -> Vec<u8> {
    let mut head = String::with_capacity(192);
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
        reply.status,
        reason_phrase(reply.status),
        reply.content_type,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !head_only {
        out.extend_from_slice(reply.body.as_bytes());
    }
    out
}

/// The answer to a refused request (always closes).
pub fn encode_refusal(r: Refusal) -> Vec<u8> {
    encode(&Reply::text(r.status, r.reason), false, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> RequestHead {
        match parse(text.as_bytes()) {
            Parsed::Request(r) => r,
            other => panic!("{text:?} → {other:?}"),
        }
    }

    fn refused(text: &[u8]) -> u16 {
        match parse(text) {
            Parsed::Refused(r) => r.status,
            other => panic!("{:?} → {other:?}", String::from_utf8_lossy(text)),
        }
    }

    #[test]
    fn plain_get_and_keep_alive_rules() {
        let r = request("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /next");
        assert_eq!((r.method.as_str(), r.path(), r.keep_alive), ("GET", "/healthz", true));
        assert_eq!(r.len, "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n".len());
        assert!(!request("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive);
        assert!(!request("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").keep_alive);
        assert!(!request("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
        assert!(request("HEAD / HTTP/1.1\r\n\r\n").head_only());
        let a = request("GET /stats HTTP/1.1\r\nAuthorization: Bearer x\r\n\r\n");
        assert_eq!(a.authorization.as_deref(), Some("Bearer x"));
    }

    #[test]
    fn partial_until_the_limit() {
        assert_eq!(parse(b"GET /heal"), Parsed::Partial);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n"), Parsed::Partial);
        let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        big.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(refused(&big), 431);
        let mut many = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(refused(many.as_bytes()), 431);
    }

    #[test]
    fn bodies_are_refused_by_declaration() {
        for cl in ["1", "5", "1000000000000", "18446744073709551615", "99999999999999999999999999"] {
            let text = format!("GET /healthz HTTP/1.1\r\nContent-Length: {cl}\r\n\r\n");
            assert_eq!(refused(text.as_bytes()), 413, "{cl}");
        }
        assert_eq!(refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 413);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"), 400);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"), 400);
        let zero = request("GET / HTTP/1.1\r\nContent-Length: 00\r\n\r\n");
        assert_eq!(zero.path(), "/");
    }

    #[test]
    fn garbage_and_long_targets() {
        assert_eq!(refused(b"\x16\x03\x01garbage that is not http\r\n\r\n"), 400);
        assert_eq!(refused(b"GET / HTTP/2.0\r\n\r\n"), 400);
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(MAX_TARGET_LEN));
        assert_eq!(refused(long.as_bytes()), 414);
    }

    #[test]
    fn encodes_replies() {
        let mut r = Reply::text(405, "method not allowed");
        r.headers.push(("Allow", "GET, HEAD".into()));
        let text = String::from_utf8(encode(&r, false, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{text}");
        assert!(text.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(text.contains("\r\nContent-Length: 19\r\n"));
        assert!(text.ends_with("\r\n\r\nmethod not allowed\n"));
        let head = String::from_utf8(encode(&r, true, true)).unwrap();
        assert!(head.ends_with("Connection: close\r\n\r\n"), "{head}");
        let refusal = encode_refusal(Refusal { status: 413, reason: "no" });
        assert!(refusal.starts_with(b"HTTP/1.1 413 Content Too Large\r\n"));
    }
}
