//! The next datagram on either of a connection's two sockets (subscriber, publisher), for the
//! room task's loops: the one serving the connection and the one lingering on a clean leave.
//!
//! It borrows the two sockets only, so the caller's `select!` can await the signalling socket
//! of the same connection beside it, and hand the bytes to [`super::conn::Conn::on_datagram`]
//! once the wait is over.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use super::conn::Pc;
use crate::livekit::peer::MAX_DATAGRAM;

/// Receive buffers, one per socket (a datagram is read whole).
pub(super) struct Datagrams {
    sub: Vec<u8>,
    publ: Vec<u8>,
}

/// A socket failed to receive: which one, and why.
pub(super) struct RecvError {
    pub pc: Pc,
    pub error: std::io::Error,
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let which = match self.pc {
            Pc::Subscriber => "subscriber",
            Pc::Publisher => "publisher",
        };
        write!(f, "{which} socket: {}", self.error)
    }
}

impl Datagrams {
    pub fn new() -> Self {
        Self { sub: vec![0; MAX_DATAGRAM], publ: vec![0; MAX_DATAGRAM] }
    }

    /// Waits for the next datagram on `sub` or `publ` (cancel-safe, as `recv_from` is): the
    /// peer connection it belongs to, its sender and its bytes.
    pub async fn recv(
        &mut self,
        sub: &UdpSocket,
        publ: &UdpSocket,
    ) -> Result<(Pc, SocketAddr, &[u8]), RecvError> {
        let (sub_buf, pub_buf) = (&mut self.sub, &mut self.publ);
        tokio::select! {
            r = sub.recv_from(sub_buf) => match r {
                Ok((n, from)) => Ok((Pc::Subscriber, from, &self.sub[..n])),
                Err(error) => Err(RecvError { pc: Pc::Subscriber, error }),
            },
            r = publ.recv_from(pub_buf) => match r {
                Ok((n, from)) => Ok((Pc::Publisher, from, &self.publ[..n])),
                Err(error) => Err(RecvError { pc: Pc::Publisher, error }),
            },
        }
    }
}
