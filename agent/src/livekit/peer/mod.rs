//! One WebRTC PeerConnection: a sans-IO `str0m::Rtc` plus the UDP socket it talks through.
//!
//! str0m's contract is "mutate, then drain `poll_output` to the next timeout before the next
//! mutation"; every mutating method here ends with [`Peer::drain`], which sends the queued
//! datagrams and collects events for the room to handle. Each PeerConnection gets its own
//! socket, so incoming datagrams never need demultiplexing.
//!
//! Only host candidates on one local address are gathered: the address the OS routes towards
//! the LiveKit server. That covers loopback, LANs and a server with a public address (the
//! server learns our NATed address as a peer-reflexive candidate). TURN is not supported.

pub mod sdp;

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;

/// Largest datagram we read; WebRTC stays under the ~1200-byte MTU target, but be generous.
pub const MAX_DATAGRAM: usize = 2048;

/// A PeerConnection failure.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The UDP socket could not be set up.
    #[error("udp socket: {0}")]
    Socket(#[from] std::io::Error),
    /// str0m refused input or hit an error (bad SDP, DTLS failure…).
    #[error("webrtc: {0}")]
    Rtc(#[from] RtcError),
    /// Our own candidate was rejected (should not happen for a bound socket).
    #[error("local candidate: {0}")]
    Candidate(String),
}

/// A PeerConnection and its socket.
pub struct Peer {
    rtc: Rtc,
    /// The socket; the room's event loop awaits `recv_from` on it directly.
    pub socket: UdpSocket,
    local: SocketAddr,
    candidate: Candidate,
    deadline: Instant,
    events: Vec<Event>,
}

impl Peer {
    /// Binds a UDP socket on `local_ip` and wraps `rtc` around it.
    pub async fn bind(rtc: Rtc, local_ip: IpAddr, now: Instant) -> Result<Self, PeerError> {
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
        let local = socket.local_addr()?;
        let candidate = Candidate::host(local, "udp").map_err(|e| PeerError::Candidate(e.to_string()))?;
        let mut peer =
            Self { rtc, socket, local, candidate: candidate.clone(), deadline: now, events: Vec::new() };
        peer.rtc.add_local_candidate(candidate);
        peer.drain()?;
        Ok(peer)
    }

    /// Our host candidate as an SDP attribute value (for trickle).
    pub fn local_candidate(&self) -> String {
        self.candidate.to_sdp_string()
    }

    /// The engine, for negotiation and writing; call [`Peer::drain`] after mutating it.
    pub fn rtc(&mut self) -> &mut Rtc {
        &mut self.rtc
    }

    /// When the engine next needs a timeout input.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.rtc.is_connected()
    }

    /// Adds a remote candidate (ignores ones str0m cannot parse or use, e.g. TCP).
    pub fn add_remote_candidate(&mut self, attribute: &str) -> Result<(), PeerError> {
        match Candidate::from_sdp_string(attribute) {
            Ok(c) if c.proto() == Protocol::Udp => {
                self.rtc.add_remote_candidate(c);
                self.drain()
            }
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::debug!(error = %e, candidate = attribute, "ignoring unusable remote candidate");
                Ok(())
            }
        }
    }

    /// Feeds a received datagram.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> Result<(), PeerError> {
        let Ok(contents) = data.try_into() else {
            // Not STUN/DTLS/RTP: stray traffic on our port.
            return Ok(());
        };
        let input = Input::Receive(
            now,
            Receive { proto: Protocol::Udp, source: from, destination: self.local, contents },
        );
        if self.rtc.accepts(&input) {
            self.rtc.handle_input(input)?;
        }
        self.drain()
    }

    /// Advances time if the engine's deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), PeerError> {
        if now >= self.deadline {
            self.rtc.handle_input(Input::Timeout(now))?;
            self.drain()?;
        }
        Ok(())
    }

    /// Drains the engine: sends datagrams, records the next deadline, queues events.
    pub fn drain(&mut self) -> Result<(), PeerError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => {
                    self.deadline = t;
                    return Ok(());
                }
                Output::Transmit(t) => {
                    // UDP is lossy anyway: a full socket buffer drops the packet like the
                    // network would, instead of stalling the whole room.
                    match self.socket.try_send_to(&t.contents, t.destination) {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => tracing::debug!(error = %e, to = %t.destination, "udp send failed"),
                    }
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    /// Takes the events collected since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Closes the connection (best effort DTLS close).
    pub fn close(&mut self) {
        self.rtc.disconnect();
        let _ = self.drain();
    }
}

/// The local address the OS would use to reach `server` (no packet is sent).
pub fn route_to(server: SocketAddr) -> std::io::Result<IpAddr> {
    let probe = std::net::UdpSocket::bind(SocketAddr::new(
        if server.is_ipv4() { IpAddr::from([0, 0, 0, 0]) } else { IpAddr::from([0u16; 8]) },
        0,
    ))?;
    probe.connect(server)?;
    Ok(probe.local_addr()?.ip())
}

/// Resolves the server's address from its `ws://` / `wss://` URL (to choose our local
/// address towards it).
pub async fn resolve(url: &str) -> std::io::Result<SocketAddr> {
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad server URL {url}"));
    let (default_port, rest) = if let Some(r) = url.strip_prefix("wss://") {
        (443, r)
    } else if let Some(r) = url.strip_prefix("ws://") {
        (80, r)
    } else {
        return Err(invalid());
    };
    let authority = rest.split('/').next().filter(|a| !a.is_empty()).ok_or_else(invalid)?;
    let has_port = !authority.ends_with(']')
        && authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    let target = if has_port { authority.to_owned() } else { format!("{authority}:{default_port}") };
    let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(target)).await;
    let timed_out =
        || std::io::Error::new(std::io::ErrorKind::TimedOut, format!("resolving {url} took too long"));
    lookup.map_err(|_| timed_out())??.next().ok_or_else(invalid)
}

/// Longest wait for the server's name to resolve (a resolver that never answers must not
/// hold a job's join forever).
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A str0m engine configured for LiveKit audio: Opus only (no RED), full ICE.
pub fn new_rtc(now: Instant) -> Rtc {
    Rtc::builder().clear_codecs().enable_opus(true, false).set_ice_lite(false).build(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolve_understands_ports_and_schemes() {
        assert_eq!(resolve("ws://127.0.0.1:7880").await.unwrap().port(), 7880);
        assert_eq!(resolve("wss://127.0.0.1/x").await.unwrap().port(), 443);
        assert_eq!(resolve("ws://[::1]:9").await.unwrap().port(), 9);
        assert_eq!(resolve("ws://[::1]").await.unwrap().port(), 80);
        assert!(resolve("http://127.0.0.1").await.is_err());
        assert!(resolve("ws://").await.is_err());
    }

    #[test]
    fn loopback_routes_to_loopback() {
        let ip = route_to(SocketAddr::from(([127, 0, 0, 1], 7880))).unwrap();
        assert!(ip.is_loopback());
    }
}
