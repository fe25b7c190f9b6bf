//! What leaves the room through its data channel — user packets and text-stream pieces, on
//! their way to the room task — and [`RoomClosed`], what a send gets once the room is gone.

/// The room has closed; the operation cannot happen any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the room is closed")]
pub struct RoomClosed;

/// A data packet to send.
#[derive(Debug)]
pub(crate) struct OutgoingData {
    pub packet: OutgoingPacket,
    pub destinations: Vec<String>,
}

/// What an outgoing data packet carries.
#[derive(Debug)]
pub(crate) enum OutgoingPacket {
    /// A user packet.
    User { topic: Option<String>, payload: Vec<u8> },
    /// A piece of a text stream, sent in the name of `sender` (empty: ourselves). Boxed: the
    /// protocol value is large and most packets are small.
    Stream { sender: String, value: Box<livekit_protocol::data_packet::Value> },
}
