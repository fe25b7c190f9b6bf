//! Between the session loop and its turn machine: the session's events (VAD, transcripts,
//! end-of-turn verdicts, finished replies) go in, the machine's commands are carried out —
//! transcriptions and end-of-turn questions as tasks, barge-ins on the audio sink.

use std::sync::Arc;

use super::super::Event;
use super::super::metrics::{metrics, observe};
use super::super::outcome::TurnKind;
use super::super::reply::Script;
use super::super::transcript::{self, TOPIC_TRANSCRIPTION};
use super::{Session, Start};
use crate::clock;
use crate::core::history::is_meaningful;
use crate::core::turn::{Command, PartId, Transcript};
use crate::providers::ProviderError;

impl Session {
    pub(super) async fn on_event(&mut self, event: Event) {
        let now = clock::now();
        match event {
            Event::SpeechStarted { who, start } => self.machine.speech_started(&who, start, now),
            Event::SpeechEnded { who, end, pcm } => {
                self.pending_audio_ms += pcm.len() as u64 / 16;
                self.pending_stages.heard = Some(now);
                self.machine.speech_ended(&who, pcm, end, now);
            }
            Event::EndOfTurn { part, probability } => self.machine.end_of_turn(part, probability, now),
            Event::Transcribed { part, who, result, stt } => {
                if let Some(d) = stt {
                    observe(&metrics().stt, d);
                    self.pending_stt = Some(self.pending_stt.map_or(d, |p| p.max(d)));
                }
                self.pending_stages.transcribed = Some(now);
                let result = match result {
                    Transcript::Text(text) => {
                        let (capped, cut) = self.shared.limiter.cap_transcript(&text);
                        if cut {
                            tracing::info!(participant = %who, "transcript capped");
                        }
                        let capped = capped.to_owned();
                        self.publish_user_transcript(&who, &capped, part).await;
                        Transcript::Text(capped)
                    }
                    failed => failed,
                };
                self.machine.transcribed(part, result, now);
            }
            Event::AudioStarted { turn } => self.machine.agent_audio_started(turn),
            Event::PreConnectDecoded { track_sid, pcm } => self.preconnect.arrived(&track_sid, pcm, now),
            Event::ReplyDone(reply) => self.finished(*reply, now),
        }
    }

    /// Carries out the machine's commands.
    pub(super) async fn execute(&mut self) {
        while let Some(cmd) = self.machine.poll_command() {
            match cmd {
                Command::Transcribe { part, who, pcm } => self.transcribe(part, who, pcm),
                Command::Predict { part, who, pcm } => self.predict(part, who, pcm),
                Command::Respond { turn, said, speech_ended } => {
                    if self.turns.values().any(|t| t.cancel.is_cancelled()) {
                        // An interrupted turn is still winding down: its words go first.
                        self.deferred.push((turn, said, speech_ended));
                    } else {
                        self.respond(turn, said, speech_ended);
                    }
                }
                Command::Say { turn, text, reason, who, speech_ended } => {
                    let who = who.unwrap_or_else(|| self.agent.clone());
                    let start =
                        Start { kind: TurnKind::Say(reason), speech_ended, asked: Vec::new(), hold: None };
                    self.start_turn(turn, Script::Fixed(text), who, start);
                }
                Command::Prepare { turn, said, speech_ended } => self.prepare(turn, said, speech_ended),
                Command::Release { turn, said, speech_ended } => self.release(turn, said, speech_ended),
                Command::Discard { turn } => self.discard(turn),
                Command::Interrupt { turn } => {
                    metrics().interruptions.inc();
                    let waiting = self.deferred.len();
                    self.deferred.retain(|(t, ..)| *t != turn);
                    if self.deferred.len() < waiting {
                        // Never started: nothing of it is queued, but a pause must not stay.
                        self.sink.resume();
                    }
                    if let Some(info) = self.turns.get_mut(&turn) {
                        info.cancel.cancel();
                        let state = self.sink.stop().await;
                        info.stopped_at = Some(state.played_samples);
                    }
                }
                // The machine pauses only its current turn (which may not have started yet).
                Command::Pause { .. } => self.sink.pause(),
                Command::Resume { turn } => {
                    if self.turns.contains_key(&turn) {
                        metrics().resumed.inc();
                        tracing::debug!(room = %self.room, turn, "no interruption after all; resuming");
                    }
                    self.sink.resume();
                }
                Command::Leave => self.leaving = true,
            }
        }
    }

    fn transcribe(&mut self, part: PartId, who: Arc<str>, pcm: Vec<i16>) {
        let call = self.call(&who);
        let providers = self.shared.providers.clone();
        let notice = self.shared.cfg.stt_unavailable_message.clone();
        let events = self.events.clone();
        self.tasks.spawn(async move {
            let (result, stt) = match providers.transcribe(&call, &pcm).await {
                Ok(t) => (Transcript::Text(t.text), Some(t.latency)),
                Err(e) if e.is_cancelled() => return,
                Err(ProviderError::Limited { sentence, .. }) => {
                    (Transcript::Failed { notice: Some(sentence) }, None)
                }
                Err(e) => {
                    tracing::warn!(participant = %who, error = %e, "transcription failed");
                    (Transcript::Failed { notice: Some(notice) }, None)
                }
            };
            let _ = events.send(Event::Transcribed { part, who, result, stt }).await;
        });
    }

    /// Asks the end-of-turn model about the pause after `part`; a failure is reported as no
    /// probability (the machine then waits the VAD delay).
    fn predict(&mut self, part: PartId, who: Arc<str>, pcm: Vec<i16>) {
        let Some(model) = self.shared.end_of_turn.clone() else { return };
        if let Some(old) = self.predicting.take() {
            old.abort();
        }
        let events = self.events.clone();
        let asked = clock::now();
        self.predicting = Some(self.tasks.spawn(async move {
            let probability = match model.predict(pcm).await {
                Ok(p) => {
                    let ms = clock::now().saturating_duration_since(asked).as_millis() as u64;
                    tracing::debug!(participant = %who, p, ms, "end-of-turn verdict");
                    Some(p)
                }
                Err(e) => {
                    tracing::debug!(participant = %who, error = %e, "no end-of-turn verdict");
                    None
                }
            };
            let _ = events.send(Event::EndOfTurn { part, probability }).await;
        }));
    }

    async fn publish_user_transcript(&mut self, who: &Arc<str>, text: &str, part: PartId) {
        if !is_meaningful(text) {
            return;
        }
        let track = self.members.get(who).and_then(|m| m.track_sid.as_deref());
        let options = transcript::user_options(who, part, track);
        let _ = self.text.send(TOPIC_TRANSCRIPTION, text, options).await;
    }
}
