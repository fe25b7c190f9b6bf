//! The room's event loop: one tokio task per joined room.
//!
//! It owns the connection, the participant registry, one Opus decoder per subscribed track,
//! the playout queue with its encoder, incoming data streams being reassembled, our attributes
//! being synced, and the channels to the [`Room`](super::Room) handle. Everything is driven
//! from one `select!`, so there are no locks: signalling messages, datagrams of both
//! PeerConnections, agent audio, data to send, attribute changes, stop requests and timers.
//! Data from anyone but a user the registry serves (another agent, say) is dropped here.
//!
//! When the connection ends with a reconnect request (server `Leave`, dead keepalive, lost
//! ICE), the task rejoins from scratch with backoff; the handle and its streams of events
//! and audio survive it. A clean leave first lets the last data out (see `RoomTask::linger`).

use crate::secret::Secret;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::api::{
    AudioChunk, AudioFrame, AudioStream, ChatMessage, CloseReason, DataMessage, PlaybackState, RoomEvent,
    SinkControl,
};
use super::attributes::AttributeSync;
use super::conn::{Conn, ConnEvent, End};
use super::datagrams::Datagrams;
use super::incoming::{self, Dropped, Limits, Reassembler, Received};
use super::outbound::Outbound;
use super::outgoing::OutgoingData;
use super::preconnect::PreConnectAudio;
use super::registry::{Change, Listen, Registry};
use crate::clock;
use crate::livekit::audio::opus::OpusEncoder;
use crate::livekit::audio::playout::Playout;
use crate::livekit::audio::receive::TrackDecoder;
use crate::livekit::backoff::Backoff;
use crate::livekit::metrics::metrics;
use crate::livekit::signal;

/// Decoded frames buffered per remote track before the oldest are dropped (1 s).
const STREAM_BUFFER: usize = 50;
/// How long a leaving agent waits at most for its last data (a transcript's end, say) to go out.
const LINGER: Duration = Duration::from_secs(2);
/// How long after our last data packet we stay: the server has acknowledged it but still has to
/// forward it, and a front end drops a stream whose sender leaves before its end arrives.
const FORWARD_GRACE: Duration = Duration::from_millis(500);
/// Rejoin attempts after a lost connection before the room is given up.
const REJOIN_ATTEMPTS: u32 = 5;

/// One subscribed remote track.
struct Inbound {
    decoder: TrackDecoder,
    tx: mpsc::Sender<AudioFrame>,
}

/// The task's ends of the channels to the [`Room`](super::Room) handle.
pub(super) struct Wiring {
    pub events: mpsc::Sender<RoomEvent>,
    pub data_rx: mpsc::Receiver<OutgoingData>,
    pub audio_rx: mpsc::Receiver<AudioChunk>,
    pub control: Arc<SinkControl>,
    pub state_tx: watch::Sender<PlaybackState>,
    /// Our published track's sid.
    pub track_tx: watch::Sender<Option<String>>,
    pub attributes: watch::Receiver<BTreeMap<String, String>>,
    pub leave: CancellationToken,
}

/// The task's state.
pub(super) struct RoomTask {
    url: String,
    started_at: Instant,
    events: mpsc::Sender<RoomEvent>,
    data_rx: mpsc::Receiver<OutgoingData>,
    leave: CancellationToken,
    registry: Registry,
    outbound: Outbound,
    encoder: OpusEncoder,
    inbound: HashMap<String, Inbound>,
    heard_audio: bool,
    attributes_rx: watch::Receiver<BTreeMap<String, String>>,
    attributes: AttributeSync,
    track_tx: watch::Sender<Option<String>>,
    streams: Reassembler,
    /// When the handle last gave us data to send (see [`RoomTask::linger`]).
    last_data_at: Option<Instant>,
}

impl RoomTask {
    /// A task for a room just joined; `local_sid` and `others` come from the JoinResponse.
    pub fn new(
        url: String,
        started_at: Instant,
        wiring: Wiring,
        playout: Playout,
        encoder: OpusEncoder,
        listen: Listen,
        join: &livekit_protocol::JoinResponse,
    ) -> Self {
        let mut task = Self {
            url,
            started_at,
            events: wiring.events,
            data_rx: wiring.data_rx,
            leave: wiring.leave,
            registry: Registry::new(listen),
            outbound: Outbound::new(wiring.audio_rx, wiring.control, wiring.state_tx, playout),
            encoder,
            inbound: HashMap::new(),
            heard_audio: false,
            attributes_rx: wiring.attributes,
            track_tx: wiring.track_tx,
            attributes: AttributeSync::new(),
            streams: Reassembler::new(Limits::default()),
            last_data_at: None,
        };
        let local = join.participant.as_ref().map(|p| p.sid.as_str()).unwrap_or_default();
        let changes = task.registry.snapshot(local, &join.other_participants);
        task.apply(changes);
        task
    }

    /// Runs until the room is over for us, then sends the final `Closed` event.
    pub async fn run(mut self, mut conn: Conn) {
        let reason = loop {
            let end = self.serve(&mut conn).await;
            let changes = self.registry.clear_media();
            self.apply(changes);
            match end {
                None => {
                    self.linger(&mut conn).await;
                    conn.leave().await;
                    break CloseReason::Left;
                }
                Some(End::Disconnected(why)) => {
                    tracing::info!(reason = %why, "server closed the room connection");
                    conn.close().await;
                    break CloseReason::Disconnected(why);
                }
                Some(End::Failed(why)) => {
                    tracing::error!(error = %why, "room connection failed");
                    conn.leave().await;
                    break CloseReason::Failed(why);
                }
                Some(End::Reconnect(why)) => {
                    tracing::warn!(reason = %why, "room connection lost; rejoining");
                    conn.close().await;
                    match self.rejoin(&conn.token).await {
                        Ok(Some(next)) => conn = next,
                        Ok(None) => break CloseReason::Left,
                        Err(e) => break CloseReason::Failed(e),
                    }
                }
            }
        };
        self.outbound.publish_state();
        // The handler may be gone; nothing to do then.
        let _ =
            tokio::time::timeout(Duration::from_secs(1), self.events.send(RoomEvent::Closed(reason))).await;
    }

    /// Before a clean leave: sends the data the handle already queued (the goodbye's last
    /// transcript packets), then serves the connection until the server has acknowledged it
    /// and had [`FORWARD_GRACE`] to pass it on, for [`LINGER`] at most. Without this a session
    /// that ends right after speaking leaves its last transcript cut off on every front end
    /// ("unexpectedly disconnected in the middle of sending data"). Nothing sent lately: no wait.
    async fn linger(&mut self, conn: &mut Conn) {
        while let Ok(data) = self.data_rx.try_recv() {
            self.last_data_at = Some(clock::now());
            conn.send_data(data);
        }
        let Some(last) = self.last_data_at else { return };
        let (until, forwarded) = (clock::now() + LINGER, last + FORWARD_GRACE);
        let mut datagrams = Datagrams::new();
        let mut out = Vec::new();
        loop {
            let now = clock::now();
            let pending = conn.data_pending();
            if now >= until || (!pending && now >= forwarded) {
                if pending {
                    tracing::warn!("left with data the server had not acknowledged");
                }
                return;
            }
            let wake = conn.deadline().min(if pending { until } else { forwarded });
            let result = tokio::select! {
                r = datagrams.recv(&conn.sub.socket, &conn.publ.socket) => match r {
                    Ok((pc, from, bytes)) => conn.on_datagram(pc, from, bytes, clock::now(), &mut out),
                    Err(e) => Err(End::Reconnect(e.to_string())),
                },
                _ = tokio::time::sleep_until(wake.into()) => conn.on_timer(clock::now(), &mut out).await,
            };
            // Nothing is delivered any more: the handler is leaving.
            out.clear();
            if let Err(end) = result {
                tracing::debug!(?end, "connection ended while the last data went out");
                return;
            }
        }
    }

    /// Full rejoin with backoff. `Ok(None)` if we were asked to leave meanwhile.
    async fn rejoin(&mut self, token: &Secret) -> Result<Option<Conn>, String> {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        let mut last_error = String::new();
        for attempt in 1..=REJOIN_ATTEMPTS {
            let delay = backoff.next_delay(rand::random::<f64>());
            tokio::select! {
                _ = self.leave.cancelled() => return Ok(None),
                _ = tokio::time::sleep(delay) => {}
            }
            metrics().room_reconnects.inc();
            match Conn::open(&self.url, token).await {
                Ok((conn, join)) => {
                    // A new participant on the server: our attributes go out again.
                    self.attributes.reset();
                    let local = join.participant.as_ref().map(|p| p.sid.clone()).unwrap_or_default();
                    let changes = self.registry.snapshot(&local, &join.other_participants);
                    self.apply(changes);
                    self.emit(RoomEvent::Reconnected);
                    tracing::info!(attempt, "rejoined the room");
                    return Ok(Some(conn));
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "rejoin failed");
                    last_error = e.to_string();
                }
            }
        }
        Err(format!("could not rejoin after {REJOIN_ATTEMPTS} attempts: {last_error}"))
    }

    /// Serves one connection. `None` means we were asked to leave.
    async fn serve(&mut self, conn: &mut Conn) -> Option<End> {
        let mut datagrams = Datagrams::new();
        let mut out = Vec::new();
        loop {
            let now = clock::now();
            let mut deadline = conn.deadline();
            for d in [self.outbound.deadline(now), self.attributes.deadline(), self.streams.deadline()] {
                deadline = d.map_or(deadline, |d| deadline.min(d));
            }
            let can_take_audio = self.outbound.can_take();
            let result = tokio::select! {
                biased;
                _ = self.leave.cancelled() => return None,
                _ = self.outbound.control.stop.notified() => {
                    self.outbound.stop();
                    Ok(())
                }
                msg = conn.signal.recv::<livekit_protocol::SignalResponse>() => match msg {
                    Ok(msg) => conn.on_signal(msg, clock::now(), &mut out).await,
                    Err(crate::livekit::ws::WsError::Decode(e)) => {
                        tracing::warn!(error = %e, "malformed signalling message ignored");
                        Ok(())
                    }
                    Err(e) => Err(End::Reconnect(format!("signalling: {e}"))),
                },
                r = datagrams.recv(&conn.sub.socket, &conn.publ.socket) => match r {
                    Ok((pc, from, bytes)) => conn.on_datagram(pc, from, bytes, clock::now(), &mut out),
                    Err(e) => Err(End::Reconnect(e.to_string())),
                },
                Some(chunk) = self.outbound.audio_rx.recv(), if can_take_audio => {
                    self.outbound.take(chunk);
                    Ok(())
                }
                Some(data) = self.data_rx.recv() => {
                    self.last_data_at = Some(clock::now());
                    conn.send_data(data);
                    Ok(())
                }
                Ok(()) = self.attributes_rx.changed() => {
                    self.attributes.want(&self.attributes_rx.borrow_and_update());
                    Ok(())
                }
                _ = tokio::time::sleep_until(deadline.into()) => self.on_timer(conn, &mut out).await,
            };
            for event in out.drain(..) {
                self.on_conn_event(event);
            }
            if let Err(end) = result {
                return Some(end);
            }
            let (now, encoder) = (clock::now(), &mut self.encoder);
            self.outbound.pump(now, |frame| match &frame.encoded {
                Some(encoded) => conn.write_audio(frame, &encoded.packet, now),
                None => match encoder.encode(&frame.pcm) {
                    Ok(packet) => conn.write_audio(frame, packet, now),
                    Err(e) => tracing::warn!(error = %e, "opus encode failed"),
                },
            });
            if let Some(update) = self.attributes.poll_request(clock::now())
                && let Err(end) = conn.request(&signal::update_attributes(update)).await
            {
                return Some(end);
            }
        }
    }

    async fn on_timer(&mut self, conn: &mut Conn, out: &mut Vec<ConnEvent>) -> Result<(), End> {
        let now = clock::now();
        if self.attributes.handle_timeout(now) {
            metrics().attribute_retries.inc();
            tracing::warn!("the server did not confirm our attributes in time; retrying");
        }
        for _ in 0..self.streams.handle_timeout(now) {
            metrics().streams_dropped.get_or_create(&[("reason", Dropped::TimedOut.as_str())]).inc();
        }
        conn.on_timer(now, out).await
    }

    fn on_conn_event(&mut self, event: ConnEvent) {
        match event {
            ConnEvent::Participants(infos) => {
                let changes = self.registry.update(&infos);
                self.apply(changes);
            }
            ConnEvent::Offered(tracks) => {
                let changes = self.registry.set_offered(tracks);
                self.apply(changes);
            }
            ConnEvent::Media(data) => self.on_media(&data),
            ConnEvent::Data(msg) => self.on_data(msg),
            ConnEvent::Stream { from, value } => self.on_stream(from, *value),
            ConnEvent::Published { track_sid } => {
                self.track_tx.send_replace(Some(track_sid));
            }
            ConnEvent::Response { request_id, ok } => {
                if self.attributes.on_response(request_id, ok, clock::now()) && !ok {
                    metrics().attribute_retries.inc();
                }
            }
        }
    }

    /// A user packet: legacy chat becomes a chat message; others pass on. Packets from
    /// participants we do not serve (other agents) are dropped; the server's own pass.
    fn on_data(&mut self, msg: DataMessage) {
        if !msg.from.is_empty() && !self.registry.is_user(&msg.from) {
            return;
        }
        if msg.topic.as_deref() == Some(incoming::legacy::TOPIC) {
            if let Some(text) = incoming::legacy::parse(&msg.payload) {
                self.emit(RoomEvent::Chat(ChatMessage { from: msg.from, text, truncated: false }));
            }
            return;
        }
        self.emit(RoomEvent::Data(msg));
    }

    /// A data-stream packet from a user.
    fn on_stream(&mut self, from: String, value: livekit_protocol::data_packet::Value) {
        use livekit_protocol::data_packet::Value;
        if !self.registry.is_user(&from) {
            return;
        }
        let now = clock::now();
        let result = match value {
            Value::StreamHeader(h) => self.streams.header(&from, h, now),
            Value::StreamChunk(c) => self.streams.chunk(&from, c).map(Err),
            Value::StreamTrailer(t) => self.streams.trailer(&from, t),
            _ => None,
        };
        match result {
            None => {}
            Some(Err(dropped)) => {
                metrics().streams_dropped.get_or_create(&[("reason", dropped.as_str())]).inc();
                tracing::info!(%from, reason = dropped.as_str(), "incoming data stream dropped");
            }
            Some(Ok(Received::Text { from, text, truncated, .. })) => {
                self.emit(RoomEvent::Chat(ChatMessage { from, text, truncated }));
            }
            Some(Ok(Received::Bytes { from, mime_type, attributes, bytes, .. })) => {
                match PreConnectAudio::new(from, &mime_type, &attributes, bytes, now) {
                    Ok(audio) => self.emit(RoomEvent::PreConnectAudio(audio)),
                    Err(e) => tracing::warn!(error = %e, "pre-connect audio ignored"),
                }
            }
        }
    }

    /// Turns registry changes into events, decoders and streams.
    fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Joined { identity, name } => {
                    self.emit(RoomEvent::ParticipantJoined { identity, name })
                }
                Change::Left { identity } => {
                    self.streams.forget(&identity);
                    self.emit(RoomEvent::ParticipantLeft { identity });
                }
                Change::Muted { identity, track_sid, muted } => {
                    self.emit(RoomEvent::TrackMuted { identity, track_sid, muted });
                }
                Change::Subscribe { mid, track_sid, identity } => match TrackDecoder::new() {
                    Ok(decoder) => {
                        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
                        self.inbound.insert(mid, Inbound { decoder, tx });
                        tracing::info!(%identity, %track_sid, "subscribed to remote audio");
                        let preconnect = self.registry.has_preconnect(&track_sid);
                        self.emit(RoomEvent::TrackSubscribed {
                            identity,
                            track_sid,
                            audio: AudioStream::new(rx).with_preconnect(preconnect),
                        });
                    }
                    Err(e) => tracing::error!(error = %e, "cannot create an Opus decoder"),
                },
                Change::Unsubscribe { mid, track_sid, identity } => {
                    self.inbound.remove(&mid);
                    self.emit(RoomEvent::TrackUnsubscribed { identity, track_sid });
                }
            }
        }
    }

    fn on_media(&mut self, data: &str0m::media::MediaData) {
        let m = metrics();
        m.packets_in.inc();
        m.bytes_in.inc_by(data.data.len() as u64);
        let Some(inbound) = self.inbound.get_mut(&data.mid.to_string()) else { return };
        let seq = (**data.seq_range.start(), **data.seq_range.end());
        let (frames, error) = inbound.decoder.push(seq, data.time.numer(), &data.data);
        if let Some(e) = error {
            m.decode_errors.inc();
            tracing::debug!(error = %e, "opus decode error");
        }
        for frame in frames {
            if let Err(mpsc::error::TrySendError::Full(_)) = inbound.tx.try_send(frame) {
                m.frames_dropped.inc();
            }
        }
        if !self.heard_audio {
            self.heard_audio = true;
            let secs = clock::now().saturating_duration_since(self.started_at).as_secs_f64();
            m.join_seconds.observe(secs);
            tracing::info!(seconds = secs, "first remote audio");
        }
    }

    fn emit(&self, event: RoomEvent) {
        if let Err(e) = self.events.try_send(event) {
            tracing::warn!(error = %e, "room event dropped: the job is not reading its events");
        }
    }
}
