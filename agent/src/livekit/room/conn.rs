//! One connection to a room: the `/rtc` signalling socket and the two PeerConnections.
//!
//! The subscriber PC answers the server's offers (remote audio and the server's data
//! channels arrive there). The publisher PC carries our audio track and data channels
//! (see [`super::publish`]).
//!
//! A [`Conn`] does the protocol work itself (answers, candidates, keepalive) and reports
//! what the room must know as [`ConnEvent`]s; when it cannot go on it returns an [`End`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use str0m::change::SdpOffer;
use str0m::media::MediaData;
use str0m::{Event, IceConnectionState};

use super::api::DataMessage;
use super::outgoing::OutgoingData;
use super::publish::{Inbound, Publication, decode_data};
use crate::clock;
use crate::livekit::audio::playout::OutFrame;
use crate::livekit::peer::{self, Peer, sdp};
use crate::livekit::signal::candidate::CandidateInit;
use crate::livekit::signal::keepalive::Keepalive;
use crate::livekit::signal::{self, JoinError};
use crate::livekit::ws::ProtoSocket;
use crate::secret::Secret;

/// ICE+DTLS on the subscriber PC must be up this long after the join.
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(20);

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
    /// A data-stream packet (header, chunk or trailer) from `from`.
    Stream {
        /// Sender identity.
        from: String,
        /// The packet.
        value: Box<proto::data_packet::Value>,
    },
    /// The server published our audio track under this sid.
    Published {
        /// Track sid.
        track_sid: String,
    },
    /// The server answered request `request_id` (`ok` or refused).
    Response {
        /// The request's id.
        request_id: u32,
        /// Accepted.
        ok: bool,
    },
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
    pub token: Secret,
    publication: Publication,
    next_offer_id: u32,
    media_deadline: Option<Instant>,
    sub_candidate_sent: bool,
    rtt_ms: i64,
}

impl Conn {
    /// Joins the room and prepares both PeerConnections; announces our audio track.
    pub async fn open(url: &str, token: &Secret) -> Result<(Self, proto::JoinResponse), JoinError> {
        let (mut socket, join) = signal::join(url, token.expose()).await?;
        let server = peer::resolve(url).await.map_err(|e| JoinError::Local(e.to_string()))?;
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
            token: token.clone(),
            publication: Publication::new(cid),
            next_offer_id: 1,
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
            Resp::Answer(answer) => {
                self.publication.answer(&answer.sdp, &mut self.publ).map_err(|e| End::Failed(e.0))?
            }
            Resp::Trickle(t) => self.on_trickle(&t)?,
            Resp::Update(update) => out.push(ConnEvent::Participants(update.participants)),
            Resp::TrackPublished(published) => self.on_track_published(published, out).await?,
            Resp::Leave(leave) => {
                let why = signal::leave_reason(&leave);
                return Err(match proto::leave_request::Action::try_from(leave.action) {
                    Ok(proto::leave_request::Action::Disconnect) => End::Disconnected(why),
                    _ => End::Reconnect(why),
                });
            }
            Resp::RefreshToken(token) => self.token = Secret::from(token),
            Resp::PongResp(pong) => {
                let sent = pong.last_ping_timestamp;
                self.rtt_ms = (clock::unix_now().as_millis() as i64 - sent).clamp(0, 60_000);
            }
            Resp::RequestResponse(r) => {
                let ok = r.reason == proto::request_response::Reason::Ok as i32;
                if !ok {
                    tracing::warn!(reason = r.reason, message = %r.message, "server refused a request");
                }
                out.push(ConnEvent::Response { request_id: r.request_id, ok });
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

    async fn on_track_published(
        &mut self,
        published: proto::TrackPublishedResponse,
        out: &mut Vec<ConnEvent>,
    ) -> Result<(), End> {
        let Some(offer) = self.publication.offer(&published, &mut self.publ).map_err(|e| End::Failed(e.0))?
        else {
            return Ok(());
        };
        if let Some(track) = published.track.as_ref() {
            out.push(ConnEvent::Published { track_sid: track.sid.clone() });
        }
        let id = self.next_offer_id;
        self.next_offer_id += 1;
        self.send(&signal::offer(offer, id)).await?;
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
        self.publication.write_audio(&mut self.publ, frame, packet, now);
    }

    /// Sends a reliable data packet (queued until the channel opens).
    pub fn send_data(&mut self, data: OutgoingData) {
        self.publication.send_data(data, &mut self.publ);
    }

    /// Whether reliable data we sent has yet to reach the server.
    pub fn data_pending(&mut self) -> bool {
        self.publication.data_pending(&mut self.publ)
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

    /// Sends a signalling request (e.g. attribute updates).
    pub async fn request(&mut self, msg: &proto::SignalRequest) -> Result<(), End> {
        self.send(msg).await
    }

    async fn send(&mut self, msg: &proto::SignalRequest) -> Result<(), End> {
        self.signal.send(msg).await.map_err(|e| End::Reconnect(format!("signalling send failed: {e}")))
    }

    /// Turns engine events into room events.
    fn pump(&mut self, out: &mut Vec<ConnEvent>) -> Result<(), End> {
        for event in self.sub.take_events() {
            match event {
                Event::MediaData(d) => out.push(ConnEvent::Media(Box::new(d))),
                Event::ChannelData(d) => out.extend(decode_data(&d.data).map(inbound)),
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
                    self.publication.channel_open(id, &mut self.publ);
                }
                Event::ChannelData(d) => out.extend(decode_data(&d.data).map(inbound)),
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    return Err(End::Reconnect("publisher connection lost".into()));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn inbound(packet: Inbound) -> ConnEvent {
    match packet {
        Inbound::User(msg) => ConnEvent::Data(msg),
        Inbound::Stream { from, value } => ConnEvent::Stream { from, value },
    }
}

fn failed(e: peer::PeerError) -> End {
    End::Failed(e.to_string())
}

fn reconnect(e: peer::PeerError) -> End {
    End::Reconnect(e.to_string())
}
