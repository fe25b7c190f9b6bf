//! The event loop: one thread accepts, reads heads, writes replies and enforces deadlines on
//! non-blocking sockets (mio's poller, the same OS readiness layer tokio is built on — no
//! runtime), so no client can hold a thread however slowly it sends or reads.
//!
//! - At most `max_connections` are open. A new connection beyond that closes one that waits
//!   for a request (idle or trickling): first those never answered, oldest first, so kept-alive
//!   clients keep their connection while a flood of idle ones churns. Only when every
//!   connection is being answered is the new one refused at once with 503.
//! - Out of file descriptors (`EMFILE`): counted, logged at most every 5 s, a waiting
//!   connection is closed to free one, or accepting pauses for 50 ms. Never fatal.
//! - Liveness is answered right here from an atomic; everything else goes to the pool.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::clock::mono_ms;
use crate::conn::{Conn, Next, State};
use crate::counters::ServerCounters;
use crate::head;
use crate::pool::{self, Job};
use crate::routes::{self, Reply};
use crate::server::Shared;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// First connection id (ids are never reused, so a late answer cannot reach a new client).
pub(crate) const FIRST_ID: usize = 2;
const ACCEPT_PAUSE_MS: u64 = 50;
const LOG_EVERY_MS: u64 = 5_000;

struct Entry {
    stream: TcpStream,
    conn: Conn,
}

/// A warning that is logged at most once per [`LOG_EVERY_MS`], with a count of the rest.
#[derive(Default)]
struct Throttled {
    last_ms: Option<u64>,
    suppressed: u64,
}

impl Throttled {
    fn warn(&mut self, now: u64, what: &str, e: &io::Error) {
        if self.last_ms.is_some_and(|t| now < t + LOG_EVERY_MS) {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(error = %e, repeated = self.suppressed, "health server: {what}");
        self.last_ms = Some(now);
        self.suppressed = 0;
    }
}

struct Loop<'a> {
    shared: &'a Shared,
    poll: Poll,
    listener: TcpListener,
    conns: HashMap<usize, Entry>,
    next_sweep: u64,
    accept_paused_until: Option<u64>,
    log: Throttled,
    busy: Vec<u8>,
    timeout_reply: Vec<u8>,
}

/// The event loop thread's body; returns when the server stops.
pub(crate) fn run(shared: &Shared) {
    let mut log = Throttled::default();
    // Setting up needs descriptors; when the process has none left, wait and try again.
    let (poll, listener) = loop {
        if shared.stopping() {
            return;
        }
        match setup(shared) {
            Ok(v) => break v,
            Err(e) => {
                log.warn(mono_ms(), "cannot set up the event loop; retrying", &e);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    let mut lp = Loop {
        shared,
        poll,
        listener,
        conns: HashMap::new(),
        next_sweep: u64::MAX,
        accept_paused_until: None,
        log,
        busy: head::encode(&Reply::text(503, "health server busy; try again"), false, true),
        timeout_reply: head::encode(&Reply::text(408, "request timeout"), false, true),
    };
    lp.run();
}

fn setup(shared: &Shared) -> io::Result<(Poll, TcpListener)> {
    let poll = Poll::new()?;
    let mut listener = TcpListener::from_std(shared.listener.try_clone()?);
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    shared.pool.set_waker(std::sync::Arc::new(waker));
    Ok((poll, listener))
}

impl Loop<'_> {
    fn counters(&self) -> &ServerCounters {
        self.shared.health.server_counters()
    }

    fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        // Connections this loop had (a restarted loop starts empty).
        while !self.shared.stopping() {
            let now = mono_ms();
            if let Err(e) = self.poll.poll(&mut events, Some(self.timeout(now))) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.log.warn(now, "poll failed", &e);
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            let now = mono_ms();
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(now),
                    WAKER => {}
                    Token(id) => self.drive(id, now),
                }
            }
            for done in self.shared.pool.take_done() {
                if let Some(e) = self.conns.get_mut(&done.conn) {
                    e.conn.reply(done.bytes, done.close);
                    self.drive(done.conn, now);
                }
            }
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept(now);
            }
            if now >= self.next_sweep {
                self.sweep(now);
            }
        }
    }

    fn timeout(&self, now: u64) -> Duration {
        let until = self.next_sweep.min(self.accept_paused_until.unwrap_or(u64::MAX));
        Duration::from_millis(until.saturating_sub(now).clamp(1, 1_000))
    }

    fn accept(&mut self, now: u64) {
        self.accept_paused_until = None;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => self.admit(stream, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => {
                    ServerCounters::inc(&self.counters().accept_errors);
                    self.log.warn(now, "accept failed (out of file descriptors?)", &e);
                    // Free a descriptor by closing the longest-waiting connection, or pause.
                    if !self.evict_oldest_waiting() {
                        self.accept_paused_until = Some(now + ACCEPT_PAUSE_MS);
                        return;
                    }
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, now: u64) {
        if self.conns.len() >= self.shared.opts.max_connections && !self.evict_oldest_waiting() {
            ServerCounters::inc(&self.counters().refused);
            let _ = stream.write(&self.busy);
            return;
        }
        let _ = stream.set_nodelay(true);
        let id = self.shared.next_id();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.poll.registry().register(&mut stream, Token(id), interest) {
            self.log.warn(now, "cannot watch a connection", &e);
            return;
        }
        let conn = Conn::new(now, self.shared.opts.request_timeout_ms());
        self.next_sweep = self.next_sweep.min(conn.deadline_ms());
        self.conns.insert(id, Entry { stream, conn });
        self.counters().open.store(self.conns.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.drive(id, now);
    }

    /// Closes a connection waiting for a request (never-answered ones first, then the
    /// longest waiting); false if none waits.
    fn evict_oldest_waiting(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .filter(|(_, e)| matches!(e.conn.state(), State::Reading | State::Lingering))
            .min_by_key(|(_, e)| (e.conn.served(), e.conn.since_ms()))
            .map(|(id, _)| *id);
        let Some(id) = oldest else { return false };
        ServerCounters::inc(&self.counters().evicted);
        self.remove(id);
        true
    }

    /// Moves a connection as far as its socket allows.
    fn drive(&mut self, id: usize, now: u64) {
        let Some(entry) = self.conns.get_mut(&id) else { return };
        let before = entry.conn.deadline_ms();
        let mut buf = [0u8; 4096];
        loop {
            let conn = &mut entry.conn;
            match conn.state() {
                State::Closed => break,
                State::Answering => break,
                State::Writing => match entry.stream.write(conn.pending()) {
                    Ok(0) => conn.close(),
                    Ok(n) => {
                        if conn.wrote(n, now) {
                            let _ = entry.stream.shutdown(Shutdown::Write);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => conn.close(),
                },
                State::Reading | State::Lingering => {
                    if conn.state() == State::Reading {
                        match conn.poll_request() {
                            Next::Request(req) => {
                                dispatch(self.shared, id, conn, req);
                                continue;
                            }
                            Next::Refused(_) => {
                                ServerCounters::inc(&self.shared.health.server_counters().bad_requests);
                                continue;
                            }
                            Next::NeedBytes | Next::Busy => {}
                        }
                    }
                    let room = conn.room().min(buf.len());
                    if room == 0 {
                        conn.close();
                        continue;
                    }
                    match entry.stream.read(&mut buf[..room]) {
                        Ok(0) => conn.peer_closed(),
                        Ok(n) => conn.received(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => conn.close(),
                    }
                }
            }
        }
        if entry.conn.state() == State::Closed {
            self.remove(id);
        } else if entry.conn.deadline_ms() != before {
            self.next_sweep = self.next_sweep.min(entry.conn.deadline_ms());
        }
    }

    fn remove(&mut self, id: usize) {
        if let Some(mut e) = self.conns.remove(&id) {
            let _ = self.poll.registry().deregister(&mut e.stream);
        }
        self.counters().open.store(self.conns.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Closes every connection past its deadline (a 408 first if part of a request came).
    fn sweep(&mut self, now: u64) {
        let mut next = u64::MAX;
        let mut expired = Vec::new();
        for (id, e) in &self.conns {
            if e.conn.expired(now) {
                expired.push(*id);
            } else {
                next = next.min(e.conn.deadline_ms());
            }
        }
        for id in expired {
            if let Some(e) = self.conns.get_mut(&id) {
                if e.conn.has_partial_request() {
                    let _ = e.stream.write(&self.timeout_reply);
                }
                if e.conn.state() != State::Lingering {
                    ServerCounters::inc(&self.shared.health.server_counters().timed_out);
                }
            }
            self.remove(id);
        }
        self.next_sweep = next;
    }
}

/// Liveness is answered at once; the rest is queued for the pool.
fn dispatch(shared: &Shared, id: usize, conn: &mut Conn, req: head::RequestHead) {
    if routes::is_liveness(req.path()) {
        let (bytes, close) = pool::answer(&shared.health, &req);
        conn.reply(bytes, close);
    } else {
        shared.pool.push(Job { conn: id, req });
    }
}
