//! Free loopback ports for the servers and agents a test starts.
//!
//! The port is free when asked for; the server that binds it next normally gets it, which is
//! what every test here relies on. Ports picked one after the other can repeat (the kernel
//! picks from a random offset and the first port is free again once its probe is closed):
//! take several at once with [`free_ports`].

use std::net::{TcpListener, UdpSocket};

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free tcp port")
}

/// `N` different TCP ports on 127.0.0.1 that nothing listens on right now (each probe stays
/// bound until all are picked, so no port comes twice).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let probes: Vec<TcpListener> =
        (0..N).map(|_| TcpListener::bind("127.0.0.1:0").expect("free tcp port")).collect();
    std::array::from_fn(|i| probes[i].local_addr().expect("free tcp port").port())
}

/// A UDP port on 127.0.0.1 that nothing is bound to right now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("free udp port")
}
