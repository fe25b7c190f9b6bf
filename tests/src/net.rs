//! Free loopback ports for the servers and agents a test starts.
//!
//! The port is free when asked for; the server that binds it next normally gets it (the
//! kernel hands out ephemeral ports in turn), which is what every test here relies on.

use std::net::{TcpListener, UdpSocket};

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free tcp port")
}

/// A UDP port on 127.0.0.1 that nothing is bound to right now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("free udp port")
}
