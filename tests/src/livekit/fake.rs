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

    /// The next connection to `path` within `wait`, if one comes (others are dropped).
    pub async fn try_accept(&mut self, path: &str, wait: Duration) -> Option<FakeConn> {
        let deadline = tokio::time::Instant::from(voice_agent::clock::now() + wait);
        loop {
            let conn = tokio::time::timeout_at(deadline, self.conns.recv()).await.ok()??;
            if conn.path == path {
                return Some(conn);
            }
        }
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

/// Scripted server side of the Agents protocol on an accepted `/agent` connection.
pub mod agent_side {
    use livekit_protocol as proto;
    use proto::server_message::Message as ServerMsg;
    use proto::worker_message::Message as WorkerMsg;

    use super::FakeConn;

    fn server_msg(m: ServerMsg) -> proto::ServerMessage {
        proto::ServerMessage { message: Some(m) }
    }

    fn job(id: &str) -> proto::Job {
        proto::Job {
            id: id.into(),
            r#type: proto::JobType::JtRoom as i32,
            room: Some(proto::Room { name: format!("room-{id}"), ..Default::default() }),
            ..Default::default()
        }
    }

    /// Waits for the worker's registration and confirms it; returns the request.
    pub async fn register(ws: &mut FakeConn) -> proto::RegisterWorkerRequest {
        let request = ws
            .recv_until(|m: proto::WorkerMessage| match m.message {
                Some(WorkerMsg::Register(r)) => Some(r),
                _ => None,
            })
            .await;
        let response = proto::RegisterWorkerResponse { worker_id: "AW_fake".into(), ..Default::default() };
        ws.send(&server_msg(ServerMsg::Register(response))).await;
        request
    }

    /// Offers job `id` (room `room-<id>`).
    pub async fn offer(ws: &mut FakeConn, id: &str) {
        let req = proto::AvailabilityRequest { job: Some(job(id)), resuming: false };
        ws.send(&server_msg(ServerMsg::Availability(req))).await;
    }

    /// The worker's next availability answer.
    pub async fn availability(ws: &mut FakeConn) -> proto::AvailabilityResponse {
        ws.recv_until(|m: proto::WorkerMessage| match m.message {
            Some(WorkerMsg::Availability(a)) => Some(a),
            _ => None,
        })
        .await
    }

    /// Assigns job `id`, to be joined at `url` with `token`.
    pub async fn assign(ws: &mut FakeConn, id: &str, url: &str, token: String) {
        let assignment = proto::JobAssignment { job: Some(job(id)), url: Some(url.into()), token };
        ws.send(&server_msg(ServerMsg::Assignment(assignment))).await;
    }

    /// Terminates job `id`.
    pub async fn terminate(ws: &mut FakeConn, id: &str) {
        ws.send(&server_msg(ServerMsg::Termination(proto::JobTermination { job_id: id.into() }))).await;
    }

    /// The next status report for job `id` with status `wanted` (or any final status if
    /// `wanted` is `None`); returns (status, error).
    pub async fn job_status(ws: &mut FakeConn, id: &str, wanted: Option<proto::JobStatus>) -> (i32, String) {
        ws.recv_until(|m: proto::WorkerMessage| match m.message {
            Some(WorkerMsg::UpdateJob(u)) if u.job_id == id => {
                let hit = match wanted {
                    Some(w) => u.status == w as i32,
                    None => u.status != proto::JobStatus::JsRunning as i32,
                };
                hit.then_some((u.status, u.error))
            }
            _ => None,
        })
        .await
    }
}

/// A JoinResponse for `identity` in `room` (two PeerConnections, subscriber primary).
pub fn join_response(room: &str, identity: &str) -> livekit_protocol::SignalResponse {
    use livekit_protocol as proto;
    let join = proto::JoinResponse {
        room: Some(proto::Room { name: room.into(), ..Default::default() }),
        participant: Some(proto::ParticipantInfo {
            sid: format!("PA_{identity}"),
            identity: identity.into(),
            ..Default::default()
        }),
        subscriber_primary: true,
        ping_interval: 5,
        ping_timeout: 15,
        ..Default::default()
    };
    proto::SignalResponse { message: Some(proto::signal_response::Message::Join(join)) }
}
