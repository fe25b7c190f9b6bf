//! Test support: real components started on free ports (LiveKit server, Python client).

pub mod livekit;
