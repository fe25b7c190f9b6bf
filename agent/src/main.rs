//! The `voice-agent` binary.
fn main() {}
