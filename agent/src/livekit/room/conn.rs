//! One connection to a room: the `/rtc` signalling socket and the two PeerConnections.
//!
//! The subscriber PC answers the server's offers (remote audio and the server's data
//! channels arrive there). The publisher PC carries our one audio track and our `_reliable`
//! and `_lossy` data channels; both are in its first offer, because the server insists that
//! a publisher which offers data channels opens both within seconds of ICE connecting.
//!
//! A [`Conn`] does the protocol work itself (answers, candidates, keepalive) and reports
//! what the room must know as [`ConnEvent`]s; when it cannot go on it returns an [`End`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use prost::Message;
use proto::signal_response::Message as Resp;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaData, MediaKind, MediaTime, Mid, Pt};
use str0m::{Event, IceConnectionState};

use super::api::{DataMessage, OutgoingData};
use crate::clock;
use crate::livekit::audio::level;
use crate::livekit::audio::playout::OutFrame;
use crate::livekit::metrics::metrics;
use crate::livekit::peer::{self, Peer, sdp};
use crate::livekit::signal::candidate::CandidateInit;
use crate::livekit::signal::keepalive::Keepalive;
use crate::livekit::signal::{self, JoinError};
use crate::livekit::ws::ProtoSocket;

/// ICE+DTLS on the subscriber PC must be up this long after the join.
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(20);
/// Data packets waiting for the `_reliable` channel to open.
const OUTBOX_LIMIT: usize = 64;

/// What the room must act on.
#[derive(Debug)]
pub enum ConnEvent {
    /// Participants changed (ParticipantUpdate).
    Participants(Vec<proto::ParticipantInfo>),
    /// A new subscriber offer was applied; audio mid → remote track sid.
    Offered(HashMap<String, String>),
    /// An Opus packet on a subscriber m-line.
    Media(Box<MediaData>),
    /// A user data packet.
    Data(DataMessage),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server wants us to reconnect (or the connection died): try a full rejoin.
    Reconnect(String),
    /// The server disconnected us for good.
    Disconnected(String),
    /// A protocol error that a rejoin would not fix (malformed SDP…).
    Failed(String),
}

/// State of our published track.
enum Publish {
    /// AddTrackRequest sent, waiting for TrackPublishedResponse.
    Announced,
    /// Offer sent, waiting for the answer.
    Offered { pending: SdpPendingOffer, mid: Mid },
    /// Negotiated.
    Live { mid: Mid, pt: Option<Pt> },
}

/// Which PeerConnection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pc {
    /// Server → us.
    Subscriber,
    /// Us → server.
    Publisher,
}

/// One live connection.
pub struct Conn {
    /// Signalling socket (the room's loop awaits `recv` on it).
    pub signal: ProtoSocket,
    /// Subscriber PC.
    pub sub: Peer,
    /// Publisher PC.
    pub publ: Peer,
    keepalive: Keepalive,
    /// Latest token (the server refreshes it), for a rejoin.
    pub token: String,
    cid: String,
    publish: Publish,
    next_offer_id: u32,
    reliable: Option<ChannelId>,
    reliable_open: bool,
    outbox: VecDeque<Vec<u8>>,
    media_deadline: Option<Instant>,
    sub_candidate_sent: bool,
    rtt_ms: i64,
}

impl Conn {
    /// Joins the room and prepares both PeerConnections; announces our audio track.
    pub async fn open(url: &str, token: &str) -> Result<(Self, proto::JoinResponse), JoinError> {
        let (mut socket, join) = signal::join(url, token).await?;
        let server = server_addr(url).await.map_err(|e| JoinError::Local(e.to_string()))?;
        let local_ip = peer::route_to(server).map_err(|e| JoinError::Local(e.to_string()))?;
        let now = clock::now();
        let local = |e: peer::PeerError| JoinError::Local(e.to_string());
        let sub = Peer::bind(peer::new_rtc(now), local_ip, now).await.map_err(local)?;
        let publ = Peer::bind(peer::new_rtc(now), local_ip, now).await.map_err(local)?;
        let cid = format!("TR_agent_{}", clock::unix_now().as_millis());
        socket.send(&signal::add_audio_track(&cid, "agent-voice")).await?;
        let conn = Self {
            signal: socket,
            sub,
            publ,
            keepalive: Keepalive::new(join.ping_interval, join.ping_timeout, now),
            token: token.to_owned(),
            cid,
            publish: Publish::Announced,
            next_offer_id: 1,
            reliable: None,
            reliable_open: false,
            outbox: VecDeque::new(),
            media_deadline: Some(now + MEDIA_TIMEOUT),
            sub_candidate_sent: false,
            rtt_ms: 0,
        };
        Ok((conn, join))
    }

    /// When [`Conn::on_timer`] must run next.
    pub fn deadline(&self) -> Instant {
        let mut d = self.sub.deadline().min(self.publ.deadline()).min(self.keepalive.deadline());
        if let Some(m) = self.media_deadline {
            d = d.min(m);
        }
        d
    }

    /// Handles one signalling message.
    pub async fn on_signal(
        &mut self,
        msg: proto::SignalResponse,
        now: Instant,
        out: &mut Vec<ConnEvent>,
    ) -> Result<(), End> {
        self.keepalive.on_pong(now);
        let Some(msg) = msg.message else { return Ok(()) };
        match msg {
            Resp::Offer(offer) => self.on_offer(offer, out).await?,
            Resp::Answer(answer) => self.on_answer(answer)?,
            Resp::Trickle(t) => self.on_trickle(&t)?,
            Resp::Update(update) => out.push(ConnEvent::Participants(update.participants)),
            Resp::TrackPublished(published) => self.on_track_published(published).await?,
            Resp::Leave(leave) => {
                let why = signal::leave_reason(&leave);
                return Err(match proto::leave_request::Action::try_from(leave.action) {
                    Ok(proto::leave_request::Action::Disconnect) => End::Disconnected(why),
                    _ => End::Reconnect(why),
                });
            }
            Resp::RefreshToken(token) => self.token = token,
            Resp::PongResp(pong) => {
                let sent = pong.last_ping_timestamp;
                self.rtt_ms = (clock::unix_now().as_millis() as i64 - sent).clamp(0, 60_000);
            }
            Resp::RequestResponse(r) if r.reason != proto::request_response::Reason::Ok as i32 => {
                tracing::warn!(reason = r.reason, message = %r.message, "server refused a request");
            }
            other => tracing::trace!(message = signal::message_name(&other), "signal message ignored"),
        }
        self.pump(out)
    }

    async fn on_offer(
        &mut self,
        offer: proto::SessionDescription,
        out: &mut Vec<ConnEvent>,
    ) -> Result<(), End> {
        let parsed = SdpOffer::from_sdp_string(&offer.sdp)
            .map_err(|e| End::Failed(format!("malformed subscriber offer SDP: {e}")))?;
        let answer = self
            .sub
            .rtc()
            .sdp_api()
            .accept_offer(parsed)
            .map_err(|e| End::Failed(format!("cannot accept subscriber offer: {e}")))?;
        self.sub.drain().map_err(failed)?;
        self.send(&signal::answer(answer.to_sdp_string(), offer.id)).await?;
        if !self.sub_candidate_sent {
            self.sub_candidate_sent = true;
            let c = CandidateInit::ours(self.sub.local_candidate()).to_json();
            self.send(&signal::trickle(c, proto::SignalTarget::Subscriber)).await?;
        }
        out.push(ConnEvent::Offered(sdp::audio_tracks(&offer.sdp, &offer.mid_to_track_id)));
        Ok(())
    }

    fn on_answer(&mut self, answer: proto::SessionDescription) -> Result<(), End> {
        let Publish::Offered { .. } = self.publish else {
            tracing::debug!("ignoring a publisher answer we did not ask for");
            return Ok(());
        };
        let parsed = SdpAnswer::from_sdp_string(&answer.sdp)
            .map_err(|e| End::Failed(format!("malformed publisher answer SDP: {e}")))?;
        let Publish::Offered { pending, mid } = std::mem::replace(&mut self.publish, Publish::Announced)
        else {
            return Ok(());
        };
        self.publ
            .rtc()
            .sdp_api()
            .accept_answer(pending, parsed)
            .map_err(|e| End::Failed(format!("cannot accept publisher answer: {e}")))?;
        self.publ.drain().map_err(failed)?;
        let pt = self
            .publ
            .rtc()
            .writer(mid)
            .and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()));
        if pt.is_none() {
            return Err(End::Failed("the server's answer has no Opus for our track".into()));
        }
        self.publish = Publish::Live { mid, pt };
        Ok(())
    }

    fn on_trickle(&mut self, t: &proto::TrickleRequest) -> Result<(), End> {
        let init = match CandidateInit::parse(&t.candidate_init) {
            Ok(init) => init,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring malformed trickle candidate");
                return Ok(());
            }
        };
        if init.attribute().is_empty() {
            return Ok(());
        }
        let peer =
            if t.target == proto::SignalTarget::Subscriber as i32 { &mut self.sub } else { &mut self.publ };
        peer.add_remote_candidate(init.attribute()).map_err(failed)
    }

    async fn on_track_published(&mut self, published: proto::TrackPublishedResponse) -> Result<(), End> {
        if published.cid != self.cid || !matches!(self.publish, Publish::Announced) {
            return Ok(());
        }
        let mut api = self.publ.rtc().sdp_api();
        let mid = api.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            Some(self.cid.clone()),
            Some(self.cid.clone()),
            None,
        );
        let reliable = api.add_channel_with_config(ChannelConfig {
            label: "_reliable".into(),
            ordered: true,
            reliability: Reliability::Reliable,
            ..Default::default()
        });
        api.add_channel_with_config(ChannelConfig {
            label: "_lossy".into(),
            ordered: false,
            reliability: Reliability::MaxRetransmits { retransmits: 0 },
            ..Default::default()
        });
        let Some((offer, pending)) = api.apply() else {
            return Err(End::Failed("publisher offer could not be created".into()));
        };
        self.publ.drain().map_err(failed)?;
        self.reliable = Some(reliable);
        self.publish = Publish::Offered { pending, mid };
        let id = self.next_offer_id;
        self.next_offer_id += 1;
        self.send(&signal::offer(offer.to_sdp_string(), id)).await?;
        let c = CandidateInit::ours(self.publ.local_candidate()).to_json();
        self.send(&signal::trickle(c, proto::SignalTarget::Publisher)).await
    }

    /// Feeds a datagram to one of the PeerConnections.
    pub fn on_datagram(
        &mut self,
        pc: Pc,
        from: SocketAddr,
        data: &[u8],
        now: Instant,
        out: &mut Vec<ConnEvent>,
    ) -> Result<(), End> {
        let peer = match pc {
            Pc::Subscriber => &mut self.sub,
            Pc::Publisher => &mut self.publ,
        };
        peer.handle_datagram(now, from, data).map_err(reconnect)?;
        self.pump(out)
    }

    /// Timeouts of both PCs, the keepalive and the media deadline.
    pub async fn on_timer(&mut self, now: Instant, out: &mut Vec<ConnEvent>) -> Result<(), End> {
        self.sub.handle_timeout(now).map_err(reconnect)?;
        self.publ.handle_timeout(now).map_err(reconnect)?;
        self.pump(out)?;
        if let Some(deadline) = self.media_deadline {
            if self.sub.is_connected() {
                self.media_deadline = None;
            } else if now >= deadline {
                return Err(End::Failed(format!(
                    "media connection did not come up within {MEDIA_TIMEOUT:?}"
                )));
            }
        }
        if self.keepalive.is_dead(now) {
            return Err(End::Reconnect("signalling keepalive timed out".into()));
        }
        if self.keepalive.poll_ping(now) {
            let ts = clock::unix_now().as_millis() as i64;
            self.send(&signal::ping(ts, self.rtt_ms)).await?;
        }
        Ok(())
    }

    /// Sends one encoded frame of our track (dropped until the publisher is connected).
    pub fn write_audio(&mut self, frame: &OutFrame, packet: &[u8], now: Instant) {
        let Publish::Live { mid, pt: Some(pt) } = self.publish else { return };
        if !self.publ.is_connected() {
            return;
        }
        if frame.start_of_talkspurt {
            tracing::debug!(rtp_time = frame.rtp_time, "agent talkspurt starts");
        }
        let dbov = level::dbov(&frame.pcm);
        let Some(writer) = self.publ.rtc().writer(mid) else { return };
        let time = MediaTime::new(frame.rtp_time, Frequency::FORTY_EIGHT_KHZ);
        let result = writer
            .audio_level(dbov, level::is_voice(dbov))
            .start_of_talkspurt(frame.start_of_talkspurt)
            .write(pt, now, time, packet.to_vec());
        match result {
            Ok(()) => {
                metrics().packets_out.inc();
                metrics().bytes_out.inc_by(packet.len() as u64);
            }
            Err(e) => tracing::debug!(error = %e, "audio write failed"),
        }
        if let Err(e) = self.publ.drain() {
            tracing::debug!(error = %e, "publisher drain failed");
        }
    }

    /// Sends a reliable data packet (queued until the channel opens).
    pub fn send_data(&mut self, data: OutgoingData) {
        let packet = proto::DataPacket {
            destination_identities: data.destinations,
            value: Some(proto::data_packet::Value::User(proto::UserPacket {
                payload: data.payload,
                topic: data.topic,
                ..Default::default()
            })),
            ..Default::default()
        };
        if self.outbox.len() >= OUTBOX_LIMIT {
            tracing::warn!("data channel not open and outbox full: dropping a data packet");
            return;
        }
        self.outbox.push_back(packet.encode_to_vec());
        self.flush_outbox();
    }

    fn flush_outbox(&mut self) {
        let (Some(id), true) = (self.reliable, self.reliable_open) else { return };
        while let Some(bytes) = self.outbox.pop_front() {
            let Some(mut channel) = self.publ.rtc().channel(id) else {
                self.outbox.push_front(bytes);
                return;
            };
            match channel.write(true, &bytes) {
                Ok(_) => {
                    metrics().data_out.inc();
                }
                Err(e) => tracing::warn!(error = %e, "data channel write failed"),
            }
            if let Err(e) = self.publ.drain() {
                tracing::debug!(error = %e, "publisher drain failed");
            }
        }
    }

    /// Sends a clean Leave and closes both PCs.
    pub async fn leave(&mut self) {
        let _ = self.signal.send(&signal::leave()).await;
        self.close().await;
    }

    /// Closes without saying goodbye (the server is gone or asked us to go).
    pub async fn close(&mut self) {
        self.sub.close();
        self.publ.close();
        self.signal.close().await;
    }

    async fn send(&mut self, msg: &proto::SignalRequest) -> Result<(), End> {
        self.signal.send(msg).await.map_err(|e| End::Reconnect(format!("signalling send failed: {e}")))
    }

    /// Turns engine events into room events.
    fn pump(&mut self, out: &mut Vec<ConnEvent>) -> Result<(), End> {
        for event in self.sub.take_events() {
            match event {
                Event::MediaData(d) => out.push(ConnEvent::Media(Box::new(d))),
                Event::ChannelData(d) => {
                    if let Some(msg) = decode_data(&d.data) {
                        out.push(ConnEvent::Data(msg));
                    }
                }
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    return Err(End::Reconnect("subscriber connection lost".into()));
                }
                Event::ChannelOpen(_, label) => tracing::debug!(%label, "subscriber data channel open"),
                _ => {}
            }
        }
        for event in self.publ.take_events() {
            match event {
                Event::ChannelOpen(id, label) => {
                    tracing::debug!(%label, "publisher data channel open");
                    if Some(id) == self.reliable {
                        self.reliable_open = true;
                        self.flush_outbox();
                    }
                }
                Event::ChannelData(d) => {
                    if let Some(msg) = decode_data(&d.data) {
                        out.push(ConnEvent::Data(msg));
                    }
                }
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    return Err(End::Reconnect("publisher connection lost".into()));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A user packet from the data channel; other packet kinds (transcriptions, RPC…) are not
/// ours to handle and malformed ones are logged and skipped.
fn decode_data(bytes: &[u8]) -> Option<DataMessage> {
    match proto::DataPacket::decode(bytes) {
        Ok(packet) => match packet.value {
            Some(proto::data_packet::Value::User(user)) => {
                metrics().data_in.inc();
                Some(DataMessage {
                    from: packet.participant_identity,
                    topic: user.topic,
                    payload: user.payload,
                })
            }
            _ => None,
        },
        Err(e) => {
            tracing::warn!(error = %e, "malformed data packet");
            None
        }
    }
}

fn failed(e: peer::PeerError) -> End {
    End::Failed(e.to_string())
}

fn reconnect(e: peer::PeerError) -> End {
    End::Reconnect(e.to_string())
}

/// Resolves the server's host from its URL (for choosing our local address).
async fn server_addr(url: &str) -> std::io::Result<SocketAddr> {
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad server URL {url}"));
    let (secure, rest) = if let Some(r) = url.strip_prefix("wss://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("ws://") {
        (false, r)
    } else {
        return Err(invalid());
    };
    let authority = rest.split('/').next().filter(|a| !a.is_empty()).ok_or_else(invalid)?;
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']');
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if secure { 443 } else { 80 })
    };
    tokio::net::lookup_host(target).await?.next().ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn server_addr_understands_ports_and_schemes() {
        assert_eq!(server_addr("ws://127.0.0.1:7880").await.unwrap().port(), 7880);
        assert_eq!(server_addr("wss://127.0.0.1/x").await.unwrap().port(), 443);
        assert_eq!(server_addr("ws://[::1]:9").await.unwrap().port(), 9);
        assert!(server_addr("http://127.0.0.1").await.is_err());
        assert!(server_addr("ws://").await.is_err());
    }

    #[test]
    fn data_packets_decode_user_payloads_only() {
        let user = proto::DataPacket {
            participant_identity: "u".into(),
            value: Some(proto::data_packet::Value::User(proto::UserPacket {
                payload: b"hi".to_vec(),
                topic: Some("t".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let msg = decode_data(&user.encode_to_vec()).unwrap();
        assert_eq!(
            (msg.from.as_str(), msg.topic.as_deref(), msg.payload.as_slice()),
            ("u", Some("t"), &b"hi"[..])
        );
        assert!(decode_data(&[0xff, 0xff, 0xff]).is_none());
        assert!(decode_data(&proto::DataPacket::default().encode_to_vec()).is_none());
    }
}
