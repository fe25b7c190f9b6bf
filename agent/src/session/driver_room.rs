//! The session loop's side of the room: participants arriving, admitted (a session slot each)
//! and leaving, their tracks listened to, typed messages and pre-connect recordings, the
//! greeting, and the turn's phase shown as `lk.agent.state`.

use std::sync::Arc;

use super::super::Event;
use super::super::transcript::TOPIC_CHAT;
use super::{Member, Session};
use crate::clock;
use crate::core::turn::{Phase, SayReason};
use crate::limits::Now;
use crate::livekit::room::{AgentState, PreConnectAudio, RoomEvent, TextStreamOptions};

impl Session {
    pub(super) async fn on_room_event(&mut self, event: RoomEvent) {
        match event {
            RoomEvent::TrackSubscribed { identity, track_sid, mut audio } => {
                let who: Arc<str> = Arc::from(identity.as_str());
                self.arrived(&who);
                if !self.members.contains_key(&who) && !self.admit(&who).await {
                    return;
                }
                if audio.expects_preconnect() {
                    let (stream, feed) = self.preconnect.prepend(&track_sid, audio, clock::now());
                    self.tasks.spawn(feed);
                    audio = stream;
                }
                let task = self.shared.hearing.listen(who.clone(), audio, self.events.clone());
                let handle = self.tasks.spawn(task);
                let member = self.members.entry(who).or_default();
                if let Some(old) = member.listener.replace(handle) {
                    old.abort();
                }
                member.track_sid = Some(track_sid);
                self.greet();
            }
            RoomEvent::TrackUnsubscribed { identity, .. } => {
                if let Some(m) = self.members.get_mut(identity.as_str())
                    && let Some(l) = m.listener.take()
                {
                    l.abort();
                }
            }
            RoomEvent::ParticipantJoined { identity, .. } => self.arrived(&Arc::from(identity.as_str())),
            RoomEvent::ParticipantLeft { identity } => self.left(&Arc::from(identity.as_str())).await,
            RoomEvent::Chat(message) => {
                let who: Arc<str> = Arc::from(message.from.as_str());
                self.arrived(&who);
                if !self.members.contains_key(&who) && !self.admit(&who).await {
                    return;
                }
                let (text, notice) =
                    super::super::typed::prepare(&self.shared.limiter, &message.text, message.truncated);
                if let Some(notice) = notice {
                    tracing::info!(participant = %who, "typed message capped");
                    let _ = self.text.send(TOPIC_CHAT, &notice, TextStreamOptions::default()).await;
                }
                self.machine.typed(&who, &text, clock::now());
            }
            RoomEvent::PreConnectAudio(audio) => self.decode_preconnect(audio),
            _ => {}
        }
    }

    /// A user is (back) in the room.
    fn arrived(&mut self, who: &Arc<str>) {
        self.present.insert(who.clone());
        self.deserted_since = None;
        self.machine.user_present(clock::now());
    }

    /// Decodes a pre-connect recording off the loop; the result comes back as an event.
    fn decode_preconnect(&mut self, audio: PreConnectAudio) {
        let events = self.events.clone();
        self.tasks.spawn(async move {
            let track_sid = audio.track_sid.clone();
            let from = audio.from.clone();
            match tokio::task::spawn_blocking(move || audio.decode()).await {
                Ok(Ok(pcm)) => {
                    let _ = events.send(Event::PreConnectDecoded { track_sid, pcm }).await;
                }
                Ok(Err(e)) => tracing::warn!(participant = %from, error = %e, "pre-connect audio not used"),
                Err(e) => tracing::warn!(error = %e, "pre-connect decoder failed"),
            }
        });
    }

    /// Shows the turn's phase to front ends: thinking from the end of the user's turn to the
    /// first audio, speaking while it plays, listening otherwise (also while a possible
    /// interruption holds the agent's audio).
    pub(super) fn show_state(&self) {
        let state = match self.machine.phase() {
            Phase::Thinking => AgentState::Thinking,
            Phase::Speaking => AgentState::Speaking,
            Phase::Listening | Phase::UserSpeaking | Phase::Endpointing | Phase::Paused => {
                AgentState::Listening
            }
        };
        self.attributes.set_agent_state(state);
    }

    /// Takes a concurrent-session slot for a new participant; a refusal is spoken.
    async fn admit(&mut self, who: &Arc<str>) -> bool {
        match self.shared.limiter.acquire_session(who, &self.room, Now::read()).await {
            Ok(lease) => {
                self.members.insert(who.clone(), Member { lease: Some(lease), ..Member::default() });
                true
            }
            Err(rejection) => {
                let sentence = self.shared.limiter.sentence(&rejection);
                tracing::info!(participant = %who, "session limit reached; not listening");
                if self.machine.say(&sentence, SayReason::Limited, Some(who.clone())).is_none() {
                    let _ = self.text.send(TOPIC_CHAT, &sentence, TextStreamOptions::default()).await;
                }
                false
            }
        }
    }

    fn greet(&mut self) {
        if self.greeted {
            return;
        }
        self.greeted = true;
        if let Some(text) = self.greeting.clone() {
            // Not said if someone already speaks: they are answered instead.
            let _ = self.machine.say(&text, SayReason::Greeting, None);
        }
    }

    async fn left(&mut self, who: &Arc<str>) {
        if self.present.remove(who) && self.present.is_empty() {
            self.deserted_since = Some(clock::now());
        }
        if let Some(m) = self.members.remove(who) {
            if let Some(l) = m.listener {
                l.abort();
            }
            if let Some(lease) = m.lease {
                self.shared.limiter.release_session(lease, Now::read()).await;
            }
        }
        self.machine.participant_left(who, clock::now());
        if self.members.is_empty() {
            self.deferred.clear();
            // Nobody left to hear the answer: stop it now.
            for info in self.turns.values() {
                info.cancel.cancel();
            }
            if !self.turns.is_empty() {
                self.sink.stop().await;
            }
        }
    }
}
