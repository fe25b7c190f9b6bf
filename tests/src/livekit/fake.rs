//! A scripted stand-in for the LiveKit server's WebSocket endpoints (`/agent`, `/rtc`), for
//! feeding the worker input a real server never sends: malformed protobuf, malformed SDP,
//! simultaneous offers. It is a real WebSocket server on 127.0.0.1:0.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// The fake server.
pub struct FakeServer {
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    conns: mpsc::Receiver<FakeConn>,
}

/// One accepted WebSocket connection.
pub struct FakeConn {
    /// Request path (`/agent`, `/rtc`).
    pub path: String,
    ws: WebSocketStream<TcpStream>,
}

impl FakeServer {
    /// Listens on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake server");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let (tx, conns) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut path = String::new();
                    #[allow(clippy::result_large_err)] // the signature tungstenite asks for
                    let callback = |req: &Request, resp: Response| {
                        path = req.uri().path().to_owned();
                        Ok(resp)
                    };
                    if let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                        let _ = tx.send(FakeConn { path, ws }).await;
                    }
                });
            }
        });
        Self { url, conns }
    }

    /// The next connection to `path` (others are dropped).
    pub async fn accept(&mut self, path: &str) -> FakeConn {
        loop {
            let conn = tokio::time::timeout(Duration::from_secs(20), self.conns.recv())
                .await
                .unwrap_or_else(|_| panic!("no connection to {path} within 20 s"))
                .expect("fake server stopped");
            if conn.path == path {
                return conn;
            }
        }
    }
}

impl FakeConn {
    /// Sends raw bytes as a binary frame.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::Binary(bytes.into())).await.expect("fake send");
    }

    /// Sends a protobuf message.
    pub async fn send<M: prost::Message>(&mut self, msg: &M) {
        self.send_raw(msg.encode_to_vec()).await;
    }

    /// Receives the next message that `pick` accepts (others are skipped), within 20 s.
    pub async fn recv_until<M, T>(&mut self, mut pick: impl FnMut(M) -> Option<T>) -> T
    where
        M: prost::Message + Default,
    {
        let deadline = tokio::time::Instant::from(voice_agent::clock::now() + Duration::from_secs(20));
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("fake peer: expected message did not arrive within 20 s");
            match next {
                Some(Ok(Message::Binary(bytes))) => {
                    let msg = M::decode(bytes).expect("client sent malformed protobuf");
                    if let Some(found) = pick(msg) {
                        return found;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("fake peer: connection ended: {other:?}"),
            }
        }
    }
}

/// An HS256 JWT with arbitrary claims (e.g. already expired), signed with `secret`.
pub fn jwt(claims: &serde_json::Value, secret: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64.encode(claims.to_string());
    let signing_input = format!("{header}.{body}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64.encode(mac.finalize().into_bytes()))
}
