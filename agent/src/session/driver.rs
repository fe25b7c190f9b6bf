//! The session loop of one job: room events and task reports in, turn-machine commands out.
//!
//! Besides speech it takes typed messages (`lk.chat`, as a user turn without STT), puts a
//! front end's pre-connect recording in front of the user's microphone ([`super::preconnect`]),
//! shows the turn's phase as `lk.agent.state`, and ends the session when the last user has
//! left (after `LEAVE_GRACE_SECS`) or when the turn machine says goodbye to a user who went
//! away (`USER_AWAY_LEAVE_SECS`). A barge-in that may be false pauses the room's audio sink
//! and resumes it, as the machine decides.
//!
//! Its parts, each in a file of its own: the room's side (`driver_room.rs`: participants,
//! typed messages, the agent's state), the session's events in and the turn machine's
//! commands out (`driver_machine.rs`), the agent's replies (`driver_replies.rs`), and
//! preemptive ones (a reply started before the end of the turn is confirmed, heard only once
//! it is; `driver_preempt.rs`).
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

use super::accounting::Stages;
use super::held::{Hold, Release};
use super::metrics::metrics;
use super::outcome::TurnKind;
use super::preconnect::PreConnect;
use super::reply::SharedAgent;
use super::{Event, Shared};
use crate::agent::AgentRunner;
use crate::clock;
use crate::core::history::{History, PieceId};
use crate::core::turn::{Said, TurnId, TurnMachine};
use crate::limits::{Now, SessionLease};
use crate::livekit::job::{JobError, JobInfo};
use crate::livekit::room::{Attributes, AudioSink, CloseReason, Room, RoomEvent, TextStreams};
use crate::providers::Call;

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
    pub(super) fn call(&self, who: &Arc<str>) -> Call {
        Call {
            participant: who.clone(),
            room: self.room.clone(),
            deadline: clock::now() + self.shared.cfg.turn_deadline,
            cancel: self.cancel.child_token(),
        }
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

#[path = "driver_machine.rs"]
mod machine;
#[path = "driver_preempt.rs"]
mod preempt;
#[path = "driver_replies.rs"]
mod replies;
#[path = "driver_room.rs"]
mod room;
