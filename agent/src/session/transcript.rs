//! Transcripts as LiveKit front ends read them: text streams on `lk.transcription` with the
//! segment, final flag and the transcribed track as attributes; text replies on `lk.chat`.
//! The session decides what to say; this module only shapes it for LiveKit (the agent's own
//! transcript is paced with its audio by [`super::captions`]).

use std::collections::HashMap;

use crate::core::turn::PartId;
use crate::livekit::room::TextStreamOptions;
use crate::livekit::room::text_stream::{ATTR_FINAL, ATTR_SEGMENT_ID, ATTR_TRACK_ID};

pub use crate::livekit::room::text_stream::{TOPIC_CHAT, TOPIC_TRANSCRIPTION};

/// The segment id of a user utterance (`SG_<who>_<part>`).
pub fn user_segment(who: &str, part: PartId) -> String {
    format!("SG_{who}_{part}")
}

/// The segment id of the agent's `n`-th reply in a session (`SG_<agent>_<n>`).
pub fn agent_segment(agent: &str, n: u64) -> String {
    format!("SG_{agent}_{n}")
}

/// Options of a user's final transcript, sent in their name, naming their track if known.
pub fn user_options(who: &str, part: PartId, track_sid: Option<&str>) -> TextStreamOptions {
    let mut attributes: HashMap<String, String> =
        [(ATTR_SEGMENT_ID.to_owned(), user_segment(who, part)), (ATTR_FINAL.to_owned(), "true".to_owned())]
            .into();
    if let Some(sid) = track_sid {
        attributes.insert(ATTR_TRACK_ID.to_owned(), sid.to_owned());
    }
    TextStreamOptions { attributes, sender: who.to_owned(), generated: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_transcripts_name_segment_track_and_sender() {
        let o = user_options("alice", 3, Some("TR_a"));
        assert_eq!(o.attributes[ATTR_SEGMENT_ID], "SG_alice_3");
        assert_eq!(o.attributes[ATTR_FINAL], "true");
        assert_eq!(o.attributes[ATTR_TRACK_ID], "TR_a");
        assert_eq!((o.sender.as_str(), o.generated), ("alice", true));
        assert!(!user_options("bob", 1, None).attributes.contains_key(ATTR_TRACK_ID));
        assert_eq!(agent_segment("agent", 2), "SG_agent_2");
    }
}
