//! Room signalling: the `/rtc` WebSocket, the join handshake and the requests we send.
//!
//! We speak the two-PeerConnection protocol (plain `/rtc`): the server offers on the
//! subscriber connection, we offer on the publisher connection. Messages are binary
//! `SignalRequest` / `SignalResponse` protobufs from `livekit-protocol`.

pub mod candidate;
pub mod keepalive;

use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;

use super::token::endpoint;
use super::ws::{ProtoSocket, WsError};

/// Protocol version we implement (two PeerConnections, subscriber primary, ping_req/pong_resp).
pub const PROTOCOL_VERSION: u32 = 16;
/// How long the server may take to send the JoinResponse.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Joining failed before the room was usable.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Connection or transport failure (includes the server rejecting the token: see
    /// [`WsError::Rejected`]).
    #[error("cannot connect to the room: {0}")]
    Connect(#[from] WsError),
    /// The server sent something other than a JoinResponse first.
    #[error("unexpected first signal message: {0}")]
    Unexpected(String),
    /// The server refused the join with a Leave.
    #[error("server refused the join: {0}")]
    Refused(String),
    /// No JoinResponse in time.
    #[error("no JoinResponse within {0:?}")]
    Timeout(Duration),
    /// Local setup failed (sockets, codecs).
    #[error("local setup failed: {0}")]
    Local(String),
}

/// The `/rtc` URL with our query parameters.
pub fn rtc_url(base: &str) -> String {
    format!(
        "{}?protocol={PROTOCOL_VERSION}&sdk=rust&version={}&auto_subscribe=1&adaptive_stream=0",
        endpoint(base, "rtc"),
        env!("CARGO_PKG_VERSION")
    )
}

/// Connects to `/rtc` and waits for the JoinResponse.
pub async fn join(base_url: &str, token: &str) -> Result<(ProtoSocket, proto::JoinResponse), JoinError> {
    let mut socket = ProtoSocket::connect(&rtc_url(base_url), token, JOIN_TIMEOUT).await?;
    let first = tokio::time::timeout(JOIN_TIMEOUT, socket.recv::<proto::SignalResponse>())
        .await
        .map_err(|_| JoinError::Timeout(JOIN_TIMEOUT))??;
    match first.message {
        Some(Resp::Join(join)) => Ok((socket, join)),
        Some(Resp::Leave(leave)) => Err(JoinError::Refused(leave_reason(&leave))),
        Some(other) => Err(JoinError::Unexpected(message_name(&other).to_owned())),
        None => Err(JoinError::Unexpected("empty message".into())),
    }
}

/// Human-readable reason of a server Leave.
pub fn leave_reason(leave: &proto::LeaveRequest) -> String {
    let reason = proto::DisconnectReason::try_from(leave.reason)
        .map(|r| r.as_str_name().to_owned())
        .unwrap_or_else(|_| format!("reason {}", leave.reason));
    let action = proto::leave_request::Action::try_from(leave.action)
        .map(|a| a.as_str_name().to_owned())
        .unwrap_or_else(|_| format!("action {}", leave.action));
    format!("{reason} ({action})")
}

/// Name of a response variant, for logs.
pub fn message_name(msg: &Resp) -> &'static str {
    match msg {
        Resp::Join(_) => "join",
        Resp::Answer(_) => "answer",
        Resp::Offer(_) => "offer",
        Resp::Trickle(_) => "trickle",
        Resp::Update(_) => "participant_update",
        Resp::TrackPublished(_) => "track_published",
        Resp::Leave(_) => "leave",
        Resp::Mute(_) => "mute",
        Resp::RoomUpdate(_) => "room_update",
        Resp::TrackUnpublished(_) => "track_unpublished",
        Resp::PongResp(_) | Resp::Pong(_) => "pong",
        Resp::RequestResponse(_) => "request_response",
        Resp::RefreshToken(_) => "refresh_token",
        _ => "other",
    }
}

/// `SignalRequest` wrapper.
pub fn request(message: Req) -> proto::SignalRequest {
    proto::SignalRequest { message: Some(message) }
}

/// Our answer to a subscriber offer (the id echoes the offer's).
pub fn answer(sdp: String, id: u32) -> proto::SignalRequest {
    request(Req::Answer(proto::SessionDescription { r#type: "answer".into(), sdp, id, ..Default::default() }))
}

/// Our publisher offer.
pub fn offer(sdp: String, id: u32) -> proto::SignalRequest {
    request(Req::Offer(proto::SessionDescription { r#type: "offer".into(), sdp, id, ..Default::default() }))
}

/// One of our ICE candidates for the given PeerConnection.
pub fn trickle(candidate_json: String, target: proto::SignalTarget) -> proto::SignalRequest {
    request(Req::Trickle(proto::TrickleRequest {
        candidate_init: candidate_json,
        target: target as i32,
        r#final: false,
    }))
}

/// Announces the agent's microphone track (mono Opus, no RED, no DTX).
pub fn add_audio_track(cid: &str, name: &str) -> proto::SignalRequest {
    request(Req::AddTrack(proto::AddTrackRequest {
        cid: cid.to_owned(),
        name: name.to_owned(),
        r#type: proto::TrackType::Audio as i32,
        source: proto::TrackSource::Microphone as i32,
        disable_red: true,
        audio_features: vec![proto::AudioTrackFeature::TfNoDtx as i32],
        ..Default::default()
    }))
}

/// Sets some of our participant attributes (the server merges them and answers with a
/// `RequestResponse` carrying `request_id`).
pub fn update_attributes(update: proto::UpdateParticipantMetadata) -> proto::SignalRequest {
    request(Req::UpdateMetadata(update))
}

/// Keepalive ping.
pub fn ping(timestamp_ms: i64, rtt_ms: i64) -> proto::SignalRequest {
    request(Req::PingReq(proto::Ping { timestamp: timestamp_ms, rtt: rtt_ms }))
}

/// Clean leave.
pub fn leave() -> proto::SignalRequest {
    request(Req::Leave(proto::LeaveRequest {
        reason: proto::DisconnectReason::ClientInitiated as i32,
        action: proto::leave_request::Action::Disconnect as i32,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn rtc_url_sets_protocol_and_two_pc_mode() {
        let url = rtc_url("ws://127.0.0.1:7880/");
        assert!(url.starts_with("ws://127.0.0.1:7880/rtc?protocol=16&"), "{url}");
        assert!(url.contains("auto_subscribe=1"));
        assert!(!url.contains("join_request"), "join_request would switch to single-PC mode");
    }

    #[test]
    fn requests_encode_and_decode() {
        let msg = add_audio_track("cid1", "agent");
        let back = proto::SignalRequest::decode(msg.encode_to_vec().as_slice()).unwrap();
        match back.message {
            Some(Req::AddTrack(t)) => {
                assert_eq!(t.cid, "cid1");
                assert!(t.disable_red);
                assert_eq!(t.source, proto::TrackSource::Microphone as i32);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn leave_reason_is_readable_even_for_unknown_codes() {
        let l = proto::LeaveRequest {
            reason: proto::DisconnectReason::RoomDeleted as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            ..Default::default()
        };
        assert_eq!(leave_reason(&l), "ROOM_DELETED (DISCONNECT)");
        let odd = proto::LeaveRequest { reason: 999, action: 77, ..Default::default() };
        assert_eq!(leave_reason(&odd), "reason 999 (action 77)");
    }
}
