//! The worker's loop: one task owns the `/agent` connection, the capacity ledger and the job
//! table, so every decision is made in one place and in order.
//!
//! One `select!` serves: server messages, job status changes, the status tick (load sample,
//! `UpdateWorkerStatus`, keepalive ping), reconnects after backoff, drain requests and the
//! drain deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::server_message::Message as ServerMsg;
use proto::worker_message::Message as WorkerMsg;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::capacity::{Capacity, Limits, Refusal};
use super::job::{self, JobUpdate, Launch};
use super::load::{LoadMeter, process_cpu_time};
use super::{Registration, WorkerControl, WorkerSettings, WorkerStatusHandle};
use crate::clock;
use crate::livekit::backoff::Backoff;
use crate::livekit::job::{JobHandler, JobInfo, JobParticipant};
use crate::livekit::metrics::metrics;
use crate::livekit::token::{endpoint, worker_token};
use crate::livekit::ws::{ProtoSocket, WsError};
use crate::secret::Secret;

/// The server must confirm a registration within this.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// Silence from the server (no message, no pong) after which the connection is presumed dead.
const SERVER_SILENCE: Duration = Duration::from_secs(30);
/// After the drain deadline, jobs are cancelled and get this long to leave their rooms.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Worker protocol version (the server's `CurrentProtocol`).
const WORKER_PROTOCOL: u32 = 1;

struct Connection {
    socket: ProtoSocket,
    last_heard: Instant,
}

pub(super) struct Worker {
    settings: WorkerSettings,
    handler: Arc<dyn JobHandler>,
    status: WorkerStatusHandle,
    capacity: Capacity,
    load: LoadMeter,
    jobs: HashMap<String, CancellationToken>,
    updates_tx: mpsc::Sender<JobUpdate>,
    updates_rx: mpsc::Receiver<JobUpdate>,
    conn: Option<Connection>,
    backoff: Backoff,
    retry_at: Instant,
    ever_connected: bool,
    tracker: TaskTracker,
}

impl Worker {
    pub fn new(settings: WorkerSettings, handler: Arc<dyn JobHandler>, status: WorkerStatusHandle) -> Self {
        let limits = Limits { max_jobs: settings.max_jobs, load_threshold: settings.load_threshold };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let (updates_tx, updates_rx) = mpsc::channel(256);
        let backoff = Backoff::new(settings.reconnect_base, settings.reconnect_max);
        Self {
            settings,
            handler,
            status,
            capacity: Capacity::new(limits),
            load: LoadMeter::new(cores),
            jobs: HashMap::new(),
            updates_tx,
            updates_rx,
            conn: None,
            backoff,
            retry_at: clock::now(),
            ever_connected: false,
            tracker: TaskTracker::new(),
        }
    }

    pub async fn run(mut self, control: WorkerControl) {
        self.tracker = control.jobs.clone();
        let mut tick = tokio::time::interval(self.settings.status_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let status = self.status.clone();
        let mut cancel_deadline: Option<Instant> = None;
        loop {
            if control.draining.is_cancelled() && self.jobs.is_empty() {
                break;
            }
            if cancel_deadline.is_some_and(|d| clock::now() >= d) {
                tracing::warn!(jobs = self.jobs.len(), "jobs did not end in time; stopping anyway");
                break;
            }
            let connected = self.conn.is_some();
            let draining = self.capacity.is_draining();
            tokio::select! {
                _ = control.draining.cancelled(), if !draining => {
                    tracing::info!(jobs = self.jobs.len(), "draining: taking no new jobs");
                    self.start_drain().await;
                }
                _ = status.drain_requested.notified(), if !draining => {
                    tracing::info!("drain requested: taking no new jobs");
                    self.start_drain().await;
                }
                _ = control.abort.cancelled(), if cancel_deadline.is_none() => {
                    tracing::warn!(jobs = self.jobs.len(), "ending the remaining jobs now");
                    for cancel in self.jobs.values() {
                        cancel.cancel();
                    }
                    cancel_deadline = Some(clock::now() + CANCEL_GRACE);
                }
                msg = recv(self.conn.as_mut()) => self.on_server_message(msg).await,
                Some(update) = self.updates_rx.recv() => self.on_job_update(update).await,
                _ = tick.tick() => self.on_tick().await,
                _ = sleep_until(Some(self.retry_at)), if !connected && !draining => self.connect().await,
                _ = sleep_until(cancel_deadline) => {}
            }
        }
        if let Some(mut conn) = self.conn.take() {
            conn.socket.close().await;
        }
        self.set_registered(false, "stopped".into());
        tracing::info!("worker stopped");
    }

    async fn start_drain(&mut self) {
        self.capacity.drain();
        self.status.drain();
        self.send_status().await;
    }

    async fn connect(&mut self) {
        if self.ever_connected {
            metrics().worker_reconnects.inc();
        }
        match self.register().await {
            Ok((socket, worker_id)) => {
                tracing::info!(%worker_id, url = %self.settings.url, agent_name = %self.settings.agent_name, "registered as a worker");

                self.conn = Some(Connection { socket, last_heard: clock::now() });
                self.ever_connected = true;
                self.backoff.reset();
                self.set_registered(true, format!("registered as {worker_id} with {}", self.settings.url));
                self.send_status().await;
            }
            Err(e) => {
                let delay = self.backoff.next_delay(rand::random::<f64>());
                tracing::warn!(error = %e, retry_in = ?delay, attempt = self.backoff.attempts(), "cannot register with the LiveKit server");
                self.set_registered(false, format!("cannot register with {}: {e}", self.settings.url));
                self.retry_at = clock::now() + delay;
            }
        }
    }

    async fn register(&self) -> Result<(ProtoSocket, String), WsError> {
        let token = worker_token(&self.settings.api_key, self.settings.api_secret.expose())
            .map_err(|e| WsError::BadRequest { url: self.settings.url.clone(), reason: e.to_string() })?;
        let url = format!("{}?protocol={WORKER_PROTOCOL}", endpoint(&self.settings.url, "agent"));
        let mut socket = ProtoSocket::connect(&url, token.expose(), REGISTER_TIMEOUT).await?;
        let register = proto::RegisterWorkerRequest {
            r#type: proto::JobType::JtRoom as i32,
            agent_name: self.settings.agent_name.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            ..Default::default()
        };
        socket.send(&worker_message(WorkerMsg::Register(register))).await?;
        let deadline = clock::now() + REGISTER_TIMEOUT;
        loop {
            let msg = tokio::time::timeout_at(deadline.into(), socket.recv::<proto::ServerMessage>())
                .await
                .map_err(|_| WsError::Timeout(REGISTER_TIMEOUT))??;
            if let Some(ServerMsg::Register(r)) = msg.message {
                return Ok((socket, r.worker_id));
            }
        }
    }

    async fn on_server_message(&mut self, msg: Result<proto::ServerMessage, WsError>) {
        let msg = match msg {
            Ok(msg) => msg,
            Err(WsError::Decode(e)) => {
                tracing::warn!(error = %e, "malformed message from the server ignored");
                return;
            }
            Err(e) => {
                self.disconnected(&e.to_string());
                return;
            }
        };
        if let Some(conn) = self.conn.as_mut() {
            conn.last_heard = clock::now();
        }
        match msg.message {
            Some(ServerMsg::Availability(req)) => self.on_availability(req).await,
            Some(ServerMsg::Assignment(assignment)) => self.on_assignment(assignment).await,
            Some(ServerMsg::Termination(t)) => match self.jobs.get(&t.job_id) {
                Some(cancel) => {
                    tracing::info!(job = %t.job_id, "server terminated the job");
                    cancel.cancel();
                }
                None => tracing::debug!(job = %t.job_id, "termination for an unknown job"),
            },
            Some(ServerMsg::GoAway(_)) => self.disconnected("server asked us to reconnect (GoAway)"),
            Some(ServerMsg::Pong(_)) | Some(ServerMsg::Register(_)) | None => {}
        }
    }

    async fn on_availability(&mut self, req: proto::AvailabilityRequest) {
        let Some(job) = req.job else {
            tracing::warn!("availability request without a job ignored");
            return;
        };
        let decision = self.capacity.offer(&job.id, clock::now());
        let room = job.room.as_ref().map(|r| r.name.as_str()).unwrap_or_default();
        let available = match decision {
            Ok(()) => {
                metrics().jobs_accepted.inc();
                tracing::info!(job = %job.id, %room, "accepting job");
                true
            }
            Err(refusal) => {
                metrics().jobs_rejected.get_or_create(&[("reason", refusal.as_str())]).inc();
                tracing::info!(job = %job.id, %room, reason = refusal.as_str(), "declining job");
                false
            }
        };
        let response = proto::AvailabilityResponse {
            job_id: job.id.clone(),
            available,
            participant_identity: participant_identity(&job.id),
            participant_name: self.participant_name(),
            participant_attributes: self.participant_attributes(),
            ..Default::default()
        };
        self.send(WorkerMsg::Availability(response)).await;
        if available {
            // Tell the server about the new load now, not at the next tick, so it does not
            // pick a worker that has just become full.
            self.send_status().await;
        }
    }

    async fn on_assignment(&mut self, assignment: proto::JobAssignment) {
        let Some(job) = assignment.job else {
            tracing::warn!("assignment without a job ignored");
            return;
        };
        let now = clock::now();
        if let Err(refusal) = self.capacity.assign(&job.id, now) {
            metrics().jobs_rejected.get_or_create(&[("reason", refusal.as_str())]).inc();
            if refusal == Refusal::AlreadyRunning {
                // The running copy stays; reporting a failure would end it on the server.
                tracing::warn!(job = %job.id, "duplicate assignment for a running job refused");
                return;
            }
            tracing::warn!(job = %job.id, reason = refusal.as_str(), "assignment for a job we cannot take");
            self.send_job_status(&job.id, proto::JobStatus::JsFailed, "worker is at capacity").await;
            return;
        }
        let url = assignment.url.filter(|u| !u.is_empty()).unwrap_or_else(|| self.settings.url.clone());
        let info = JobInfo {
            id: job.id.clone(),
            room: job.room.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            metadata: job.metadata.clone(),
            identity: participant_identity(&job.id),
            participant: job.participant.as_ref().map(|p| JobParticipant {
                identity: p.identity.clone(),
                name: p.name.clone(),
                attributes: p.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            }),
        };
        let cancel = CancellationToken::new();
        self.jobs.insert(job.id.clone(), cancel.clone());
        self.publish_counts();
        let launch = Launch { info, url, token: Secret::from(assignment.token), assigned_at: now, cancel };
        self.tracker.spawn(job::run(launch, self.handler.clone(), self.updates_tx.clone()));
    }

    async fn on_job_update(&mut self, update: JobUpdate) {
        let ended = matches!(update.status, proto::JobStatus::JsSuccess | proto::JobStatus::JsFailed);
        if ended {
            self.jobs.remove(&update.job_id);
            self.capacity.release(&update.job_id);
            if update.status == proto::JobStatus::JsFailed {
                metrics().jobs_failed.inc();
            }
            self.publish_counts();
        }
        self.send_job_status(&update.job_id, update.status, &update.error).await;
        if ended {
            self.send_status().await;
        }
    }

    async fn on_tick(&mut self) {
        if let Some(cpu) = process_cpu_time() {
            let load = self.load.sample(clock::now(), cpu);
            self.capacity.set_cpu_load(load);
        }
        let silent = self
            .conn
            .as_ref()
            .is_some_and(|c| clock::now().saturating_duration_since(c.last_heard) > SERVER_SILENCE);
        if silent {
            self.disconnected("no word from the server");
            return;
        }
        self.send_status().await;
        let ping = proto::WorkerPing { timestamp: clock::unix_now().as_millis() as i64 };
        self.send(WorkerMsg::Ping(ping)).await;
    }

    async fn send_status(&mut self) {
        let report = self.capacity.report(clock::now());
        let status =
            if report.available { proto::WorkerStatus::WsAvailable } else { proto::WorkerStatus::WsFull };
        let update = proto::UpdateWorkerStatus {
            status: Some(status as i32),
            load: report.load,
            job_count: report.job_count,
            ..Default::default()
        };
        self.send(WorkerMsg::UpdateWorker(update)).await;
    }

    async fn send_job_status(&mut self, job_id: &str, status: proto::JobStatus, error: &str) {
        let update = proto::UpdateJobStatus {
            job_id: job_id.to_owned(),
            status: status as i32,
            error: error.to_owned(),
        };
        self.send(WorkerMsg::UpdateJob(update)).await;
    }

    async fn send(&mut self, msg: WorkerMsg) {
        let Some(conn) = self.conn.as_mut() else { return };
        if let Err(e) = conn.socket.send(&worker_message(msg)).await {
            self.disconnected(&format!("send failed: {e}"));
        }
    }

    fn disconnected(&mut self, why: &str) {
        if self.conn.take().is_some() {
            let delay = self.backoff.next_delay(rand::random::<f64>());
            tracing::warn!(reason = why, retry_in = ?delay, "lost the LiveKit server connection");
            self.retry_at = clock::now() + delay;
            self.set_registered(false, format!("lost the connection to {}: {why}", self.settings.url));
        }
    }

    fn set_registered(&self, registered: bool, detail: String) {
        metrics().registered.set(i64::from(registered));
        self.status.set_registration(Registration { registered, detail });
    }

    fn publish_counts(&self) {
        self.status.set_running(self.jobs.len());
        metrics().jobs_running.set(self.jobs.len() as i64);
    }

    /// Attributes our participant starts with (they go into the job's token): front ends see
    /// `lk.agent.state = initializing` from the moment we join, and `lk.agent.name` when the
    /// worker has a name.
    fn participant_attributes(&self) -> std::collections::HashMap<String, String> {
        use crate::livekit::room::attributes::{ATTR_AGENT_NAME, ATTR_AGENT_STATE, AgentState};
        let mut attributes = std::collections::HashMap::from([(
            ATTR_AGENT_STATE.to_owned(),
            AgentState::Initializing.as_str().to_owned(),
        )]);
        if !self.settings.agent_name.is_empty() {
            attributes.insert(ATTR_AGENT_NAME.to_owned(), self.settings.agent_name.clone());
        }
        attributes
    }

    fn participant_name(&self) -> String {
        if self.settings.agent_name.is_empty() {
            "agent".to_owned()
        } else {
            self.settings.agent_name.clone()
        }
    }
}

/// Our identity in a job's room (the server requires a non-empty one).
fn participant_identity(job_id: &str) -> String {
    format!("agent-{job_id}")
}

fn worker_message(message: WorkerMsg) -> proto::WorkerMessage {
    proto::WorkerMessage { message: Some(message) }
}

async fn recv(conn: Option<&mut Connection>) -> Result<proto::ServerMessage, WsError> {
    match conn {
        Some(conn) => conn.socket.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
