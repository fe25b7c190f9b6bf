//! A tiny HTTP client for `voice-agent healthcheck`: the container's HEALTHCHECK needs no curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No connection, or it broke, or it timed out.
    #[error("cannot reach {addr}: {source}")]
    Io {
        /// Where we tried.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The answer was not HTTP.
    #[error("{addr} did not answer with HTTP")]
    NotHttp {
        /// Where we tried.
        addr: SocketAddr,
    },
}

/// Sends `GET path` to `addr` and returns the status code. An unspecified listen address
/// (`0.0.0.0`, `::`) is probed on loopback.
pub fn get_status(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let io = |source| ProbeError::Io { addr, source };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).map_err(io)?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let got = stream.read(&mut head[n..]).map_err(io)?;
        if got == 0 {
            break;
        }
        n += got;
    }
    parse_status(&head[..n]).ok_or(ProbeError::NotHttp { addr })
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.")?;
    rest.get(2..5)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line() {
        assert_eq!(parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"), Some(503));
        assert_eq!(parse_status(b"HTTP/1.0 200 OK"), Some(200));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status(b"HTTP/1.1 2"), None);
    }

    #[test]
    fn refused_is_an_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        assert!(matches!(get_status(addr, "/", Duration::from_millis(500)), Err(ProbeError::Io { .. })));
    }
}
