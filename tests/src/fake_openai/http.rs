//! A minimal HTTP/1.1 server connection: reads requests (Content-Length or chunked bodies,
//! bounded), writes responses whole or chunked, and notices at once when the client goes away
//! — even while the fake is deliberately waiting — so tests can see cancellations.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Requests larger than this are refused (the fake must stay bounded too).
const MAX_REQUEST: usize = 32 * 1024 * 1024;

/// The client closed the connection (or it broke).
#[derive(Debug)]
pub struct Closed;

/// One parsed request.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A server-side connection.
pub struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(s: TcpStream) -> Self {
        let (rd, wr) = s.into_split();
        Self { rd, wr, buf: Vec::new() }
    }

    async fn fill(&mut self) -> Result<(), Closed> {
        let mut tmp = [0u8; 16 * 1024];
        match self.rd.read(&mut tmp).await {
            Ok(0) | Err(_) => Err(Closed),
            Ok(n) if self.buf.len() + n <= MAX_REQUEST => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(())
            }
            Ok(_) => Err(Closed),
        }
    }

    /// The next request, or `Closed` when the client is done with the connection.
    pub async fn read_request(&mut self) -> Result<RawRequest, Closed> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&self.buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let method = req.method.unwrap_or("").to_owned();
                    let path = req.path.unwrap_or("").to_owned();
                    let headers: Vec<(String, String)> = req
                        .headers
                        .iter()
                        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                        .collect();
                    let chunked = headers
                        .iter()
                        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.trim().parse().ok())
                        .unwrap_or(0);
                    self.buf.drain(..head_len);
                    let body =
                        if chunked { self.read_chunked().await? } else { self.read_exact(len).await? };
                    return Ok(RawRequest { method, path, headers, body });
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(_) => return Err(Closed),
            }
        }
    }

    async fn read_exact(&mut self, len: usize) -> Result<Vec<u8>, Closed> {
        if len > MAX_REQUEST {
            return Err(Closed);
        }
        while self.buf.len() < len {
            self.fill().await?;
        }
        Ok(self.buf.drain(..len).collect())
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, Closed> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break p;
                }
                self.fill().await?;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| Closed)?;
            self.buf.drain(..line_end + 2);
            let chunk = self.read_exact(size + 2).await?;
            if size == 0 {
                return Ok(body);
            }
            if body.len() + size > MAX_REQUEST {
                return Err(Closed);
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }

    /// Runs `fut` unless the client closes the connection first.
    pub async fn unless_closed<T>(&mut self, fut: impl Future<Output = T>) -> Result<T, Closed> {
        let Self { rd, buf, .. } = self;
        let closed = async {
            let mut tmp = [0u8; 4096];
            loop {
                match rd.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    // A pipelined next request: keep it for later.
                    Ok(n) if buf.len() + n <= MAX_REQUEST => buf.extend_from_slice(&tmp[..n]),
                    Ok(_) => return,
                }
            }
        };
        tokio::select! {
            v = fut => Ok(v),
            () = closed => Err(Closed),
        }
    }

    /// Sleeps, or reports that the client left meanwhile.
    pub async fn pause(&mut self, d: Duration) -> Result<(), Closed> {
        if d.is_zero() {
            return Ok(());
        }
        self.unless_closed(tokio::time::sleep(d)).await
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Closed> {
        self.wr.write_all(bytes).await.map_err(|_| Closed)?;
        self.wr.flush().await.map_err(|_| Closed)
    }

    /// A complete response with a Content-Length.
    pub async fn respond(
        &mut self,
        status: u16,
        content_type: &str,
        extra: &[(String, String)],
        body: &[u8],
    ) -> Result<(), Closed> {
        let mut head = status_line(status);
        head.push_str(&format!("content-type: {content_type}\r\ncontent-length: {}\r\n", body.len()));
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut all = head.into_bytes();
        all.extend_from_slice(body);
        self.write(&all).await
    }

    /// The head of a chunked response; follow with [`Conn::chunk`] and [`Conn::end_chunks`].
    pub async fn start_chunked(&mut self, status: u16, content_type: &str) -> Result<(), Closed> {
        let mut head = status_line(status);
        head.push_str(&format!("content-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"));
        self.write(head.as_bytes()).await
    }

    pub async fn chunk(&mut self, data: &[u8]) -> Result<(), Closed> {
        if data.is_empty() {
            return Ok(());
        }
        let mut c = format!("{:x}\r\n", data.len()).into_bytes();
        c.extend_from_slice(data);
        c.extend_from_slice(b"\r\n");
        self.write(&c).await
    }

    pub async fn end_chunks(&mut self) -> Result<(), Closed> {
        self.write(b"0\r\n\r\n").await
    }

    /// Closes the write side abruptly (a cut stream).
    pub async fn shutdown(&mut self) {
        let _ = self.wr.shutdown().await;
    }
}

fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    format!("HTTP/1.1 {status} {reason}\r\n")
}
