//! A WebSocket carrying binary protobuf messages, as both LiveKit endpoints (`/rtc`, `/agent`)
//! use.
//!
//! Authentication is a Bearer token in the `Authorization` header (not the query string, so
//! the token stays out of proxy logs). An HTTP rejection during the upgrade keeps the server's
//! status and body, because that body is the only place the server says *why* (expired token,
//! wrong secret, unknown room…).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Largest message we accept; LiveKit signalling messages are a few kB (SDP with many tracks).
const MAX_MESSAGE: usize = 1 << 20;
/// Longest server reason text we keep in an error.
const MAX_REASON: usize = 300;

/// A WebSocket failure.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The URL or the token could not be put into a request.
    #[error("bad request for {url}: {reason}")]
    BadRequest {
        /// Target URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The server answered the upgrade with an HTTP error (401 for a bad token…).
    #[error("server rejected the connection with HTTP {status}: {body}")]
    Rejected {
        /// HTTP status code.
        status: u16,
        /// The server's explanation (trimmed).
        body: String,
    },
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Transport or protocol error.
    #[error("websocket: {0}")]
    Transport(#[from] tungstenite::Error),
    /// The peer closed the connection.
    #[error("connection closed by the server{}", reason_suffix(.0))]
    Closed(Option<String>),
    /// A binary frame was not the expected protobuf message.
    #[error("malformed protobuf message: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// The server's rejection text with any JWT in it replaced: LiveKit echoes the token back
/// ("invalid token: eyJ…, error: … token is expired"), and credentials do not belong in logs.
fn redact(body: &str) -> String {
    let words: Vec<String> = body
        .trim()
        .split(' ')
        .map(|w| {
            let core = w.trim_end_matches([',', ';', '.']);
            if core.starts_with("eyJ") && core.matches('.').count() == 2 {
                w.replacen(core, "<token>", 1)
            } else {
                w.to_owned()
            }
        })
        .collect();
    words.join(" ").chars().take(MAX_REASON).collect()
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason.as_deref().filter(|r| !r.is_empty()).map(|r| format!(": {r}")).unwrap_or_default()
}

/// Longest a send may wait for the peer to take our bytes. A server that stops reading fills
/// the socket buffers; without this a send would wait forever and wedge its caller's loop.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected protobuf-over-WebSocket channel.
pub struct ProtoSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    send_timeout: Duration,
}

impl ProtoSocket {
    /// Connects to `url` with `token` as Bearer credentials.
    pub async fn connect(url: &str, token: &str, timeout: Duration) -> Result<Self, WsError> {
        let bad = |reason: String| WsError::BadRequest { url: url.to_owned(), reason };
        let mut request = url.into_client_request().map_err(|e| bad(e.to_string()))?;
        let auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| bad(e.to_string()))?;
        request.headers_mut().insert("Authorization", auth);
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(16 * 1024)
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        match tokio::time::timeout(timeout, connect).await {
            Err(_) => Err(WsError::Timeout(timeout)),
            Ok(Ok((ws, _response))) => Ok(Self { ws, send_timeout: SEND_TIMEOUT }),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| redact(&String::from_utf8_lossy(b)))
                    .unwrap_or_default();
                Err(WsError::Rejected { status, body })
            }
            Ok(Err(e)) => Err(WsError::Transport(e)),
        }
    }

    /// Sends one message as a binary frame, within the send deadline ([`SEND_TIMEOUT`]).
    /// After [`WsError::Timeout`] the socket is unusable (a frame may be half written): drop it
    /// and reconnect.
    pub async fn send<M: prost::Message>(&mut self, msg: &M) -> Result<(), WsError> {
        let send = self.ws.send(Message::Binary(msg.encode_to_vec().into()));
        match tokio::time::timeout(self.send_timeout, send).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(WsError::Timeout(self.send_timeout)),
        }
    }

    /// Changes the send deadline (tests use a short one).
    pub fn set_send_timeout(&mut self, timeout: Duration) {
        self.send_timeout = timeout;
    }

    /// Receives the next protobuf message. Cancel-safe: it only awaits the stream.
    ///
    /// A frame that does not decode is returned as [`WsError::Decode`]; the socket stays
    /// usable, so the caller decides whether a bad message is fatal.
    pub async fn recv<M: prost::Message + Default>(&mut self) -> Result<M, WsError> {
        loop {
            match self.ws.next().await {
                None => return Err(WsError::Closed(None)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Binary(bytes))) => return Ok(M::decode(bytes)?),
                Some(Ok(Message::Close(frame))) => {
                    return Err(WsError::Closed(frame.map(|f| f.reason.to_string())));
                }
                // Pings are answered by tungstenite itself; text frames are not part of the
                // protocol and are ignored rather than fatal.
                Some(Ok(Message::Text(text))) => {
                    tracing::debug!(len = text.len(), "ignoring a text frame on a protobuf socket");
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends a close frame and flushes; errors are irrelevant at this point.
    pub async fn close(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that completes the handshake and then never reads: sends must end at their
    /// deadline instead of waiting forever.
    #[tokio::test]
    async fn a_peer_that_stops_reading_cannot_wedge_a_send() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await; // holds the socket, reads nothing
            drop(ws);
        });
        let mut socket =
            ProtoSocket::connect(&format!("ws://{addr}/agent"), "t", Duration::from_secs(5)).await.unwrap();
        socket.set_send_timeout(Duration::from_millis(300));
        let big = livekit_protocol::SessionDescription {
            r#type: "offer".into(),
            sdp: "x".repeat(256 * 1024),
            ..Default::default()
        };
        let mut outcome = None;
        for _ in 0..1000 {
            if let Err(e) = socket.send(&big).await {
                outcome = Some(e);
                break;
            }
        }
        assert!(matches!(outcome, Some(WsError::Timeout(_))), "{outcome:?}");
        server.abort();
    }

    #[test]
    fn rejection_text_keeps_the_reason_and_hides_the_token() {
        let body = "invalid token: eyJhbGciOi.eyJleHAiOjE3.c2lnbmF0dXJl, error: go-jose/go-jose/jwt: validation failed, token is expired (exp)\n";
        let r = redact(body);
        assert_eq!(
            r,
            "invalid token: <token>, error: go-jose/go-jose/jwt: validation failed, token is expired (exp)"
        );
        assert_eq!(redact("room not found"), "room not found");
    }
}
