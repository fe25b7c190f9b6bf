//! End to end against a real livekit-server and the real Python LiveKit client: the worker's
//! protocol paths, echo, the audio sink, the voice session (with the fake provider for the paid
//! APIs) and the agent binary in both modes.
//!
//! Each test holds [`voice_agent_tests::serial::heavy`], so they run one at a time as they did
//! as separate binaries: the machine's cores go to one conversation, and process-wide session
//! metrics move only for the test that reads them.
//!
//! `cargo test -p voice-agent-tests --test livekit`

mod binary_e2e;
mod binary_voice;
mod browser_playground;
mod health_fuzz;
mod livekit_bad_input;
mod livekit_capacity;
mod livekit_drain;
mod livekit_echo;
mod livekit_frontend;
mod livekit_last_words;
mod livekit_protocol;
mod livekit_restart;
mod livekit_room_events;
mod livekit_sink;
mod load_users;
mod log_canary;
mod pipeline_in_code;
mod session_barge_in;
mod session_conversation;
mod session_degraded;
mod session_false_interruption;
mod session_frontends;
mod session_leave;
mod session_limits;
mod session_outage;
mod session_speakers;
mod session_tools;
mod session_transcripts;
mod session_trickle;
mod session_turns;
mod session_waiting;
