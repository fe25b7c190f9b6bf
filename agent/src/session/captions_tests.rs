use std::time::Duration;

use super::*;
use crate::livekit::room::memory::{self, FarEnd, SentText};

const SECOND: u64 = 48_000;

fn caption(far: &FarEnd) -> Option<SentText> {
    far.texts().into_iter().find(|t| t.topic == TOPIC_TRANSCRIPTION)
}

/// Words of `text` (a word counts once its trailing space or the end is there).
fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

#[tokio::test(start_paused = true)]
async fn words_appear_as_their_audio_plays_and_the_caption_ends_final() {
    let (room, far) = memory::pair("room", "agent");
    let sink = room.audio_sink();
    let (captions, writer) = Captions::new(room.text_streams(), sink.clone(), "SG_agent_1".into());
    let writer = tokio::spawn(writer);
    captions.sentence("One two three four.", 0);
    sink.play(vec![1000; SECOND as usize]).await.unwrap();
    captions.length(SECOND);
    captions.sentence("Five six.", SECOND);
    sink.play(vec![1000; SECOND as usize]).await.unwrap();
    captions.length(SECOND);
    let mut seen = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let played = far.playback().played_samples;
        let shown = caption(&far).map_or(0, |t| words(&t.text));
        // Never ahead of the voice: at most the word now playing.
        let heard_words = if played <= SECOND {
            1 + (4 * played / SECOND) as usize
        } else {
            5 + (2 * (played - SECOND) / SECOND) as usize
        };
        assert!(shown <= heard_words.min(6), "{shown} words shown after {played} samples");
        seen.push(shown);
    }
    assert!(seen.windows(2).any(|w| w[0] < w[1]), "the caption grew over time: {seen:?}");
    captions.done(false);
    writer.await.unwrap();
    let t = caption(&far).unwrap();
    assert_eq!(t.text, "One two three four. Five six.");
    assert_eq!(t.closed.as_deref(), Some(""));
    assert_eq!(t.attributes[ATTR_FINAL], "true", "final in the trailer");
    assert_eq!(t.attributes[ATTR_SEGMENT_ID], "SG_agent_1");
    assert_eq!(t.attributes[ATTR_TRACK_ID], "TR_agent", "the agent's own track");
    assert!(!t.attributes.contains_key(ATTR_INTERRUPTED));
}

#[tokio::test(start_paused = true)]
async fn a_barge_in_ends_the_caption_at_what_was_heard() {
    let (room, far) = memory::pair("room", "agent");
    let sink = room.audio_sink();
    let (captions, writer) = Captions::new(room.text_streams(), sink.clone(), "SG_agent_2".into());
    let writer = tokio::spawn(writer);
    captions.sentence("alpha beta gamma delta epsilon zeta eta theta.", 0);
    sink.play(vec![1000; 2 * SECOND as usize]).await.unwrap();
    captions.length(2 * SECOND);
    captions.sentence("Never heard at all.", 2 * SECOND);
    sink.play(vec![1000; SECOND as usize]).await.unwrap();
    // Half of the first sentence plays, then the user talks over it.
    far.wait_played(SECOND).await;
    let state = sink.stop().await;
    captions.done(true);
    writer.await.unwrap();
    let t = caption(&far).unwrap();
    assert_eq!(t.attributes[ATTR_INTERRUPTED], "true");
    assert_eq!(t.attributes[ATTR_FINAL], "true");
    assert!(t.text.starts_with("alpha beta"), "{t:?}");
    assert!(!t.text.contains("Never"), "{t:?}");
    let heard = words(&t.text);
    assert!((4..=5).contains(&heard), "about half of 8 words heard: {t:?} ({state:?})");
}

#[tokio::test(start_paused = true)]
async fn a_reply_nobody_heard_leaves_no_caption_and_text_only_sentences_show_in_order() {
    let (room, far) = memory::pair("room", "agent");
    let sink = room.audio_sink();
    let (captions, writer) = Captions::new(room.text_streams(), sink.clone(), "SG_agent_3".into());
    let writer = tokio::spawn(writer);
    captions.sentence("Cut before a sound.", 0);
    captions.done(true);
    writer.await.unwrap();
    assert!(caption(&far).is_none(), "{:?}", far.texts());

    let (captions, writer) = Captions::new(room.text_streams(), sink.clone(), "SG_agent_4".into());
    let writer = tokio::spawn(writer);
    captions.text_only("No voice today.", 0);
    captions.text_only("Still none.", 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    captions.done(false);
    writer.await.unwrap();
    assert_eq!(caption(&far).unwrap().text, "No voice today. Still none.");
}
