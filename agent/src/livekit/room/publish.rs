//! Our published audio track and our data channels on the publisher PeerConnection.
//!
//! The track is announced with AddTrackRequest at join; when the server confirms it
//! (TrackPublishedResponse) we offer one sendonly Opus m-line plus the `_reliable` and
//! `_lossy` data channels in the same first offer (the server insists that a publisher which
//! offers data channels opens both within seconds of ICE connecting). Data packets wait in a
//! bounded outbox until `_reliable` is open.

use std::collections::VecDeque;
use std::time::Instant;

use livekit_protocol as proto;
use prost::Message;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};

use super::api::DataMessage;
use super::outgoing::{OutgoingData, OutgoingPacket};
use crate::livekit::audio::level;
use crate::livekit::audio::playout::OutFrame;
use crate::livekit::metrics::metrics;
use crate::livekit::peer::Peer;

/// Data packets waiting for the `_reliable` channel to open.
const OUTBOX_LIMIT: usize = 64;

/// A negotiation step failed; the text says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PublishError(pub String);

enum State {
    /// AddTrackRequest sent, waiting for TrackPublishedResponse.
    Announced,
    /// Offer sent, waiting for the answer.
    Offered { pending: SdpPendingOffer, mid: Mid },
    /// Negotiated.
    Live { mid: Mid, pt: Pt },
}

/// The publisher side of a connection.
pub struct Publication {
    cid: String,
    state: State,
    reliable: Option<ChannelId>,
    reliable_open: bool,
    outbox: VecDeque<Vec<u8>>,
}

impl Publication {
    /// A track announced under client id `cid`.
    pub fn new(cid: String) -> Self {
        Self { cid, state: State::Announced, reliable: None, reliable_open: false, outbox: VecDeque::new() }
    }

    /// Builds the first publisher offer once the server confirmed our track; `None` if the
    /// confirmation is not for us or comes twice.
    pub fn offer(
        &mut self,
        published: &proto::TrackPublishedResponse,
        peer: &mut Peer,
    ) -> Result<Option<String>, PublishError> {
        if published.cid != self.cid || !matches!(self.state, State::Announced) {
            return Ok(None);
        }
        let mut api = peer.rtc().sdp_api();
        let (stream, track) = (Some(self.cid.clone()), Some(self.cid.clone()));
        let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, stream, track, None);
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
        let (offer, pending) =
            api.apply().ok_or_else(|| PublishError("publisher offer could not be created".into()))?;
        peer.drain().map_err(|e| PublishError(e.to_string()))?;
        self.reliable = Some(reliable);
        self.state = State::Offered { pending, mid };
        Ok(Some(offer.to_sdp_string()))
    }

    /// Applies the server's answer to our offer.
    pub fn answer(&mut self, sdp: &str, peer: &mut Peer) -> Result<(), PublishError> {
        if !matches!(self.state, State::Offered { .. }) {
            tracing::debug!("ignoring a publisher answer we did not ask for");
            return Ok(());
        }
        let parsed = SdpAnswer::from_sdp_string(sdp)
            .map_err(|e| PublishError(format!("malformed publisher answer SDP: {e}")))?;
        let State::Offered { pending, mid } = std::mem::replace(&mut self.state, State::Announced) else {
            return Ok(());
        };
        peer.rtc()
            .sdp_api()
            .accept_answer(pending, parsed)
            .map_err(|e| PublishError(format!("cannot accept publisher answer: {e}")))?;
        peer.drain().map_err(|e| PublishError(e.to_string()))?;
        let pt = peer
            .rtc()
            .writer(mid)
            .and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()))
            .ok_or_else(|| PublishError("the server's answer has no Opus for our track".into()))?;
        self.state = State::Live { mid, pt };
        Ok(())
    }

    /// Sends one encoded frame (dropped until negotiated and connected).
    pub fn write_audio(&self, peer: &mut Peer, frame: &OutFrame, packet: &[u8], now: Instant) {
        let State::Live { mid, pt } = self.state else { return };
        if !peer.is_connected() {
            return;
        }
        if frame.start_of_talkspurt {
            tracing::debug!(rtp_time = frame.rtp_time, "agent talkspurt starts");
        }
        let dbov = frame.encoded.as_ref().map_or_else(|| level::dbov(&frame.pcm), |e| e.dbov);
        let Some(writer) = peer.rtc().writer(mid) else { return };
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
        if let Err(e) = peer.drain() {
            tracing::debug!(error = %e, "publisher drain failed");
        }
    }

    /// A data channel on the publisher PC opened.
    pub fn channel_open(&mut self, id: ChannelId, peer: &mut Peer) {
        if Some(id) == self.reliable {
            self.reliable_open = true;
            self.flush(peer);
        }
    }

    /// Sends a reliable data packet (queued until the channel opens).
    pub fn send_data(&mut self, data: OutgoingData, peer: &mut Peer) {
        if self.outbox.len() >= OUTBOX_LIMIT {
            tracing::warn!("data channel not open and outbox full: dropping a data packet");
            return;
        }
        self.outbox.push_back(encode_data(data));
        self.flush(peer);
    }

    /// Whether data is still on its way: queued here, or sent but not yet acknowledged.
    pub fn data_pending(&self, peer: &mut Peer) -> bool {
        let Some(id) = self.reliable.filter(|_| self.reliable_open) else { return false };
        !self.outbox.is_empty() || peer.rtc().channel(id).is_some_and(|mut c| c.buffered_amount() > 0)
    }

    fn flush(&mut self, peer: &mut Peer) {
        let (Some(id), true) = (self.reliable, self.reliable_open) else { return };
        while let Some(bytes) = self.outbox.pop_front() {
            let Some(mut channel) = peer.rtc().channel(id) else {
                self.outbox.push_front(bytes);
                return;
            };
            match channel.write(true, &bytes) {
                Ok(_) => {
                    metrics().data_out.inc();
                }
                Err(e) => tracing::warn!(error = %e, "data channel write failed"),
            }
            if let Err(e) = peer.drain() {
                tracing::debug!(error = %e, "publisher drain failed");
            }
        }
    }
}

/// A data packet as LiveKit carries it.
fn encode_data(data: OutgoingData) -> Vec<u8> {
    let (participant_identity, value) = match data.packet {
        OutgoingPacket::User { topic, payload } => (
            String::new(),
            proto::data_packet::Value::User(proto::UserPacket { payload, topic, ..Default::default() }),
        ),
        OutgoingPacket::Stream { sender, value } => (sender, *value),
    };
    proto::DataPacket {
        destination_identities: data.destinations,
        participant_identity,
        value: Some(value),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A data packet we act on.
#[derive(Debug)]
pub enum Inbound {
    /// A user packet.
    User(DataMessage),
    /// A piece of a data stream from `from`. Boxed: the protocol value is large.
    Stream { from: String, value: Box<proto::data_packet::Value> },
}

/// A user packet or a data-stream packet from a data channel; other packet kinds
/// (transcriptions, RPC…) are not ours to handle and malformed ones are logged and skipped.
pub fn decode_data(bytes: &[u8]) -> Option<Inbound> {
    use proto::data_packet::Value;
    match proto::DataPacket::decode(bytes) {
        Ok(packet) => match packet.value {
            Some(Value::User(user)) => {
                metrics().data_in.inc();
                Some(Inbound::User(DataMessage {
                    from: packet.participant_identity,
                    topic: user.topic,
                    payload: user.payload,
                }))
            }
            Some(value @ (Value::StreamHeader(_) | Value::StreamChunk(_) | Value::StreamTrailer(_))) => {
                metrics().data_in.inc();
                Some(Inbound::Stream { from: packet.participant_identity, value: Box::new(value) })
            }
            _ => None,
        },
        Err(e) => {
            tracing::warn!(error = %e, "malformed data packet");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_packets_round_trip_and_others_are_skipped() {
        let bytes = encode_data(OutgoingData {
            packet: OutgoingPacket::User { topic: Some("t".into()), payload: b"hi".to_vec() },
            destinations: vec!["u2".into()],
        });
        let packet = proto::DataPacket::decode(bytes.as_slice()).unwrap();
        assert_eq!(packet.destination_identities, ["u2"]);
        let Some(Inbound::User(msg)) = decode_data(&bytes) else { panic!("not a user packet") };
        assert_eq!((msg.topic.as_deref(), msg.payload.as_slice()), (Some("t"), &b"hi"[..]));
        let chunk = proto::data_packet::Value::StreamChunk(proto::data_stream::Chunk {
            stream_id: "s".into(),
            ..Default::default()
        });
        let bytes = encode_data(OutgoingData {
            packet: OutgoingPacket::Stream { sender: "ann".into(), value: Box::new(chunk) },
            destinations: vec![],
        });
        let Some(Inbound::Stream { from, value }) = decode_data(&bytes) else {
            panic!("not a stream packet")
        };
        assert!(from == "ann" && matches!(*value, proto::data_packet::Value::StreamChunk(_)));
        assert!(decode_data(&[0xff, 0xff, 0xff]).is_none());
        assert!(decode_data(&proto::DataPacket::default().encode_to_vec()).is_none());
    }
}
