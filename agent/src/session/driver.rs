//! The session loop of one job: room events and task reports in, turn-machine commands out.
//!
//! Besides speech it takes typed messages (`lk.chat`, as a user turn without STT), puts a
//! front end's pre-connect recording in front of the user's microphone ([`super::preconnect`]),
//! shows the turn's phase as `lk.agent.state`, and ends the session when the last user has
//! left (after `LEAVE_GRACE_SECS`) or when the turn machine says goodbye to a user who went
//! away (`USER_AWAY_LEAVE_SECS`). A barge-in that may be false pauses the room's audio sink
//! and resumes it, as the machine decides.
//!
//! Preemptive replies (a reply started before the end of the turn is confirmed, heard only
//! once it is) are carried out in `driver_preempt.rs`.
//!
//! It reads time only through [`clock::now`] and sleeps on tokio's timers, so on paused time
//! (`tokio::time::pause`) a test drives it through whole conversations in milliseconds; see
//! `driver_tests.rs`, which runs it on an in-memory room
//! ([`crate::livekit::room::memory`]) with scripted providers and ears.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::accounting::{self, Stages, TurnFacts};
use super::held::{Hold, Release};
use super::metrics::{metrics, observe};
use super::outcome::{Outcome, TurnKind};
use super::preconnect::PreConnect;
use super::reply::{self, AgentTurn, Reply, ReplyCtx, Script, SharedAgent, Timing};
use super::transcript::{self, TOPIC_CHAT, TOPIC_TRANSCRIPTION};
use super::{Event, Shared};
use crate::agent::{AgentRunner, UserTurn};
use crate::clock;
use crate::core::chat_item::ChatItem;
use crate::core::history::{History, PieceId, Speaker, heard_text, is_meaningful};
use crate::core::turn::{Command, PartId, Phase, Said, SayReason, Transcript, TurnId, TurnMachine};
use crate::limits::{Now, SessionLease};
use crate::livekit::job::{JobError, JobInfo};
use crate::livekit::room::{
    AgentState, Attributes, AudioSink, CloseReason, PreConnectAudio, Room, RoomEvent, TextStreamOptions,
    TextStreams,
};
use crate::providers::{Call, Capability, ProviderError};

/// A participant the session serves.
#[derive(Default)]
struct Member {
    lease: Option<SessionLease>,
    listener: Option<AbortHandle>,
    track_sid: Option<String>,
}

/// What the loop remembers about a running agent turn.
struct TurnInfo {
    cancel: CancellationToken,
    kind: TurnKind,
    who: Arc<str>,
    speech_ended: Option<Instant>,
    stt: Option<Duration>,
    /// When its stages happened (for the turn's log line).
    stages: Stages,
    /// Audio transcribed for this turn, milliseconds.
    audio_ms: u64,
    /// Played samples when a barge-in stopped it.
    stopped_at: Option<u64>,
    /// The questions this turn answers, as history pieces (taken back if it gets no answer).
    asked: Vec<PieceId>,
    /// A preemptive reply not released yet: its release, and the user's words it answers
    /// (they enter the history at the release).
    held: Option<(Release, Vec<String>)>,
    /// A preemptive reply dropped because the user went on.
    discarded: bool,
}

/// How an agent turn starts.
struct Start {
    kind: TurnKind,
    /// The end of the speech it answers.
    speech_ended: Option<Instant>,
    /// The questions it answers, as history pieces.
    asked: Vec<PieceId>,
    /// A preemptive reply's hold (it is heard once released).
    hold: Option<Hold>,
}

struct Session {
    shared: Arc<Shared>,
    /// The job's agent (a handoff replaces it inside).
    agent_runner: SharedAgent,
    job: Arc<JobInfo>,
    /// The agent's greeting, said when the first participant arrives.
    greeting: Option<String>,
    /// The tool loop's filler, rendered ahead when the agent has tools (it is heard at once).
    filler: Option<String>,
    room: Arc<str>,
    agent: Arc<str>,
    machine: TurnMachine,
    history: History,
    members: HashMap<Arc<str>, Member>,
    turns: HashMap<TurnId, TurnInfo>,
    tasks: JoinSet<()>,
    events: mpsc::Sender<Event>,
    sink: AudioSink,
    text: TextStreams,
    cancel: CancellationToken,
    greeted: bool,
    /// Slowest STT latency of the utterances waiting for the next answer.
    pending_stt: Option<Duration>,
    /// When the newest utterance waiting was reported, and its transcript came in.
    pending_stages: Stages,
    segments: u64,
    /// Audio of the utterances waiting, milliseconds (prices STT).
    pending_audio_ms: u64,
    /// Our participant attributes (`lk.agent.state`).
    attributes: Attributes,
    /// Pre-connect recordings and the tracks waiting for them.
    preconnect: PreConnect,
    /// Users in the room now.
    present: HashSet<Arc<str>>,
    /// Since when the room has had no user, after someone was there.
    deserted_since: Option<Instant>,
    /// The end-of-turn question in flight (a newer pause withdraws it).
    predicting: Option<AbortHandle>,
    /// The goodbye to an absent user has been said: the session ends.
    leaving: bool,
    /// Answers waiting for an interrupted turn to report what was heard of it, so that their
    /// request carries the history in order.
    deferred: Vec<(TurnId, Vec<Said>, Instant)>,
    /// Replies may be prepared ahead: the agent has no tools (a tool's effects could not be
    /// taken back if the user goes on).
    preemptive: bool,
}

/// Runs one session in `room` until it closes or `cancel` fires, then leaves the room.
pub(super) async fn run(
    shared: Arc<Shared>,
    mut room: Room,
    cancel: CancellationToken,
    job: JobInfo,
) -> Result<(), JobError> {
    let mut runner = match AgentRunner::new(shared.agents.make(&job)) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(room = %room.name(), job = %job.id, error = %e, "cannot start the agent");
            room.leave().await;
            return Err(JobError(e.to_string()));
        }
    };
    runner.enter().await;
    let (events, mut inbox) = mpsc::channel(256);
    let mut turn = shared.cfg.turn;
    if shared.end_of_turn.is_none() {
        turn.smart = None;
    }
    let preemptive = turn.preemptive && runner.tools().is_empty();
    let mut s = Session {
        preemptive,
        greeting: runner.greeting(),
        filler: (!runner.tools().is_empty() && shared.cfg.tool_loop.filler_after.is_some())
            .then(|| shared.cfg.tool_loop.filler.clone()),
        agent_runner: Arc::new(tokio::sync::Mutex::new(runner)),
        job: Arc::new(job),
        machine: TurnMachine::new(turn).with_away(shared.cfg.away.clone()),
        history: History::new(shared.cfg.history_max_tokens),
        room: Arc::from(room.name()),
        agent: Arc::from(room.identity()),
        members: HashMap::new(),
        turns: HashMap::new(),
        tasks: JoinSet::new(),
        events,
        sink: room.audio_sink(),
        text: room.text_streams(),
        cancel: cancel.child_token(),
        greeted: false,
        pending_stt: None,
        pending_stages: Stages::default(),
        segments: 0,
        pending_audio_ms: 0,
        attributes: room.attributes(),
        preconnect: PreConnect::default(),
        present: HashSet::new(),
        deserted_since: None,
        predicting: None,
        leaving: false,
        deferred: Vec::new(),
        shared,
    };
    metrics().sessions.inc();
    tracing::info!(room = %s.room, job = %s.job.id, "voice session started");
    s.prerender();
    // Ready: front ends show the agent as connected from here on.
    s.show_state();
    let result = loop {
        let wake = s.machine.poll_timeout();
        let deserted = s.deserted_since.map(|at| at + s.shared.cfg.leave_grace);
        tokio::select! {
            () = cancel.cancelled() => break Ok(()),
            () = sleep_until(deserted) => {
                tracing::info!(room = %s.room, "the last user left; voice session done");
                break Ok(());
            }
            event = room.next_event() => match event {
                None => break Ok(()),
                Some(RoomEvent::Closed(CloseReason::Failed(why))) => break Err(JobError(why)),
                Some(RoomEvent::Closed(reason)) => {
                    tracing::info!(?reason, "room closed; voice session done");
                    break Ok(());
                }
                Some(event) => s.on_room_event(event).await,
            },
            Some(event) = inbox.recv() => s.on_event(event).await,
            Some(_) = s.tasks.join_next(), if !s.tasks.is_empty() => {}
            () = sleep_until(wake) => s.machine.handle_timeout(clock::now()),
        }
        s.execute().await;
        s.show_state();
        if s.leaving {
            tracing::info!(room = %s.room, "the user went away; goodbye said, voice session done");
            break Ok(());
        }
    };
    s.end(&mut inbox).await;
    room.leave().await;
    result
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Session {
    async fn on_room_event(&mut self, event: RoomEvent) {
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
                    super::typed::prepare(&self.shared.limiter, &message.text, message.truncated);
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
    fn show_state(&self) {
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

    async fn on_event(&mut self, event: Event) {
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
    async fn execute(&mut self) {
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

    fn respond(&mut self, turn: TurnId, said: Vec<Said>, speech_ended: Instant) {
        // The filler and notices, if TTS could not render them before.
        self.prerender();
        let texts = self.user_texts(&said);
        let mut asked = Vec::new();
        for text in &texts {
            asked.extend(self.history.push_user(text));
        }
        let (answer, who) = self.agent_turn(&self.history, &said, texts);
        let start = Start { kind: TurnKind::Answer, speech_ended: Some(speech_ended), asked, hold: None };
        self.start_turn(turn, Script::Agent(answer), who, start);
    }

    /// What each utterance said, as the history keeps it (labelled with the speaker when
    /// several people are in the call).
    fn user_texts(&self, said: &[Said]) -> Vec<String> {
        let labelled = self.members.len() > 1;
        said.iter()
            .map(|s| if labelled { format!("{}: {}", s.who, s.text) } else { s.text.clone() })
            .collect()
    }

    /// The agent's answer to `said` (whose texts are `texts`) given `history` (ending with
    /// them), and who it answers.
    fn agent_turn(&self, history: &History, said: &[Said], texts: Vec<String>) -> (AgentTurn, Arc<str>) {
        let labelled = self.members.len() > 1;
        let now = clock::now();
        let mut extra = Vec::new();
        if let Some(degraded) = self.shared.providers.degraded_summary(now) {
            extra.push(degraded);
        }
        if labelled {
            extra.push(
                "Several people are in this call; each user message starts with the speaker's name."
                    .to_owned(),
            );
        }
        let mut items = Vec::new();
        for e in history.window() {
            if e.speaker == Speaker::User {
                items.push(ChatItem::User(e.text));
            } else {
                items.extend(e.tools);
                if !e.text.is_empty() {
                    items.push(ChatItem::Assistant(e.text));
                }
            }
        }
        let who = said.first().map_or_else(|| self.agent.clone(), |s| s.who.clone());
        let answer = AgentTurn {
            agent: self.agent_runner.clone(),
            history: items,
            extra: extra.join("\n\n"),
            turn: UserTurn { speaker: who.clone(), text: texts.join(" ") },
            job: self.job.clone(),
            options: Arc::new(self.shared.cfg.tool_loop.clone()),
        };
        (answer, who)
    }

    fn start_turn(&mut self, turn: TurnId, script: Script, who: Arc<str>, start: Start) {
        let Start { kind, speech_ended, asked, hold } = start;
        let call = self.call(&who);
        let info = TurnInfo {
            cancel: call.cancel.clone(),
            kind,
            who,
            speech_ended,
            stt: self.pending_stt.take(),
            stages: std::mem::take(&mut self.pending_stages),
            audio_ms: std::mem::take(&mut self.pending_audio_ms),
            stopped_at: None,
            asked,
            held: None,
            discarded: false,
        };
        self.turns.insert(turn, info);
        self.segments += 1;
        let segment = transcript::agent_segment(&self.agent, self.segments);
        let ctx = self.reply_ctx();
        let events = self.events.clone();
        // An answer gets the filler if it has no audio this long after the user stopped.
        let filler_at = match (kind, speech_ended, self.shared.cfg.thinking_notice) {
            (TurnKind::Answer, Some(end), Some(after)) => Some(end + after),
            _ => None,
        };
        let timing = Timing { filler_at, hold };
        self.tasks.spawn(async move {
            let reply = reply::run(ctx, turn, script, call, segment, timing).await;
            let _ = events.send(Event::ReplyDone(Box::new(reply))).await;
        });
    }

    fn finished(&mut self, reply: Reply, now: Instant) {
        let Some(info) = self.turns.remove(&reply.turn) else { return };
        if info.discarded || info.held.is_some() {
            // Never heard: nothing of it is remembered; what it used is counted.
            self.unheard(&info, &reply);
            self.machine.agent_done(reply.turn, now);
            return;
        }
        let heard = match info.stopped_at {
            Some(played) => heard_text(&reply.spoken, played.saturating_sub(reply.baseline)),
            None if reply.interrupted => String::new(),
            None => reply.text.clone(),
        };
        // Notices and apologies are not part of the conversation; answers and the greeting are.
        // Tool calls that ran are, whatever came of the answer: their effects happened.
        if Outcome::remembered(info.kind, reply.outcome) {
            self.history.push_agent_turn(&heard, reply.tools.clone());
        } else if !reply.tools.is_empty() {
            self.history.push_agent_turn("", reply.tools.clone());
        }
        if !reply.handoffs.is_empty() {
            tracing::info!(room = %self.room, to = ?reply.handoffs, "the conversation was handed over");
        }
        // A question that got an apology or a limit notice instead of an answer is taken
        // back: the user heard that it was not answered, and the next answer must not
        // answer it along with the next question. One cut short by the user stays: their
        // next words go on from it.
        // Unless tools ran for it: their calls stay, and so does what they answered.
        if Outcome::forgets_question(info.kind, reply.outcome, reply.interrupted) && reply.tools.is_empty() {
            self.history.forget(&info.asked);
        }
        let facts = TurnFacts {
            room: &self.room,
            who: &info.who,
            speech_ended: info.speech_ended,
            stt: info.stt,
            audio_ms: info.audio_ms,
            outcome: Outcome::of_turn(info.kind, reply.outcome, reply.interrupted),
            stages: info.stages,
        };
        accounting::account(self.shared.limiter.prices(), &self.shared.models, &facts, &reply, &heard);
        self.machine.agent_done(reply.turn, now);
        if !self.turns.values().any(|t| t.cancel.is_cancelled()) {
            for (turn, said, speech_ended) in std::mem::take(&mut self.deferred) {
                self.respond(turn, said, speech_ended);
            }
        }
    }

    async fn publish_user_transcript(&mut self, who: &Arc<str>, text: &str, part: PartId) {
        if !is_meaningful(text) {
            return;
        }
        let track = self.members.get(who).and_then(|m| m.track_sid.as_deref());
        let options = transcript::user_options(who, part, track);
        let _ = self.text.send(TOPIC_TRANSCRIPTION, text, options).await;
    }

    fn call(&self, who: &Arc<str>) -> Call {
        Call {
            participant: who.clone(),
            room: self.room.clone(),
            deadline: clock::now() + self.shared.cfg.turn_deadline,
            cancel: self.cancel.child_token(),
        }
    }

    fn reply_ctx(&self) -> ReplyCtx {
        ReplyCtx {
            providers: self.shared.providers.clone(),
            sink: self.sink.clone(),
            text: self.text.clone(),
            cache: self.shared.cache.clone(),
            splitter: self.shared.cfg.splitter,
            llm_unavailable: self.shared.cfg.llm_unavailable_message.clone(),
            filler: self.shared.cfg.thinking_notice.map(|_| self.shared.cfg.thinking_filler.clone()),
            first_clause_after: self.shared.cfg.first_clause_after,
            events: self.events.clone(),
        }
    }

    /// Renders the filler and the notices while TTS works, so they stay audible when it does
    /// not (checked at start and before each answer; rendered once per worker).
    fn prerender(&mut self) {
        let now = clock::now();
        if !self.shared.providers.is_available(Capability::Tts, now) {
            return;
        }
        let cfg = &self.shared.cfg;
        let filler = cfg.thinking_notice.map(|_| &cfg.thinking_filler);
        let texts: Vec<String> = [
            filler,
            Some(&cfg.llm_unavailable_message),
            Some(&cfg.stt_unavailable_message),
            self.filler.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter(|t| !self.shared.cache.contains(t))
        .cloned()
        .collect();
        if texts.is_empty() {
            return;
        }
        let call = self.call(&self.agent.clone());
        let (providers, cache) = (self.shared.providers.clone(), self.shared.cache.clone());
        self.tasks.spawn(async move { reply::prerender(providers.as_ref(), &cache, &call, &texts).await });
    }

    /// Ends every task and gives the session slots back. A reply still running is stopped
    /// and given a moment to close its caption at what was heard.
    async fn end(&mut self, inbox: &mut mpsc::Receiver<Event>) {
        self.cancel.cancel();
        if !self.turns.is_empty() {
            self.sink.stop().await;
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while !self.turns.is_empty() {
                    match inbox.recv().await {
                        Some(Event::ReplyDone(reply)) => {
                            self.turns.remove(&reply.turn);
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            })
            .await;
        }
        self.tasks.shutdown().await;
        for (_, m) in self.members.drain() {
            if let Some(lease) = m.lease {
                self.shared.limiter.release_session(lease, Now::read()).await;
            }
        }
        metrics().sessions.dec();
        tracing::info!(room = %self.room, "voice session ended");
    }
}

#[path = "driver_preempt.rs"]
mod preempt;
