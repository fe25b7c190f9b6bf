//! The offline local stack (`scripts/setup --local`): Whisper, llama-server and hibari on
//! their own, and in real LiveKit conversations with no fake anywhere.
//!
//! Each test holds [`voice_agent_tests::serial::heavy`]: the engines take the machine's cores.
//!
//! `cargo test -p voice-agent-tests --test local`

mod local_accuracy;
mod local_conversation;
mod local_outage;
mod local_stack;
