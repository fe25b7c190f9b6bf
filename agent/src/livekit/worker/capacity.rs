//! Which jobs the worker accepts, and what it reports as its status (sans-IO).
//!
//! Every availability offer is decided here, one at a time, by the single task that owns this
//! struct; an accepted offer reserves its slot *before* the answer goes out. Two offers that
//! arrive together therefore can never both take the last slot: the cap is hard.
//!
//! A reservation becomes a running job when the assignment arrives, and is released if the
//! assignment never comes (the server gave the job to someone else or gave up).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long an accepted offer waits for its `JobAssignment` before the slot is freed.
/// The server sends the assignment right after our answer; it waits 10 s for the answer.
pub const RESERVATION_TTL: Duration = Duration::from_secs(15);

/// Capacity limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Hard cap on concurrent jobs.
    pub max_jobs: u32,
    /// Refuse offers once CPU load reaches this (0..1).
    pub load_threshold: f64,
}

/// Why an offer was refused (a metric label, so a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_jobs` reached.
    Full,
    /// CPU load at or above the threshold.
    Overloaded,
    /// The worker is draining for shutdown.
    Draining,
    /// The job is already running here (a duplicate assignment).
    AlreadyRunning,
}

impl Refusal {
    /// Label value for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Full => "full",
            Refusal::Overloaded => "overloaded",
            Refusal::Draining => "draining",
            Refusal::AlreadyRunning => "duplicate",
        }
    }
}

/// What the worker tells the server in `UpdateWorkerStatus`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// False means WS_FULL: the server stops offering jobs.
    pub available: bool,
    /// 0..1: the CPU load while jobs are taken, 1 once they are not. The server weights its
    /// choice by 1 − load and stops offering jobs to a worker well before 1 (about 0.7 in
    /// livekit-server 1.13), so slot usage is not reported as load: it would stop the offers
    /// at about 70 % of `max_jobs`. Full is said by `available`.
    pub load: f32,
    /// Jobs running or reserved.
    pub job_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Reserved { until: Instant },
    Running,
}

/// The capacity ledger.
#[derive(Debug)]
pub struct Capacity {
    limits: Limits,
    slots: HashMap<String, Slot>,
    cpu_load: f64,
    draining: bool,
}

impl Capacity {
    /// An empty ledger.
    pub fn new(limits: Limits) -> Self {
        let limits = Limits { max_jobs: limits.max_jobs.max(1), ..limits };
        Self { limits, slots: HashMap::new(), cpu_load: 0.0, draining: false }
    }

    /// Decides an availability offer; on acceptance the slot is reserved at once.
    pub fn offer(&mut self, job_id: &str, now: Instant) -> Result<(), Refusal> {
        self.expire(now);
        match self.slots.get(job_id) {
            Some(Slot::Running) => return Err(Refusal::AlreadyRunning),
            // The same offer again (a retry): it already holds a slot.
            Some(Slot::Reserved { .. }) => return Ok(()),
            None => {}
        }
        if let Some(r) = self.refusal() {
            return Err(r);
        }
        self.slots.insert(job_id.to_owned(), Slot::Reserved { until: now + RESERVATION_TTL });
        Ok(())
    }

    /// The assignment for `job_id` arrived. Returns whether to run it: yes if we reserved it,
    /// or, for an assignment we never accepted, only if a slot is free right now; never when
    /// it already runs here (a second assignment would start a second copy of the job).
    pub fn assign(&mut self, job_id: &str, now: Instant) -> Result<(), Refusal> {
        self.expire(now);
        if self.slots.get(job_id) == Some(&Slot::Running) {
            return Err(Refusal::AlreadyRunning);
        }
        if !self.slots.contains_key(job_id)
            && let Some(r) = self.refusal()
        {
            return Err(r);
        }
        self.slots.insert(job_id.to_owned(), Slot::Running);
        Ok(())
    }

    /// A job ended (or its reservation was abandoned): frees the slot.
    pub fn release(&mut self, job_id: &str) {
        self.slots.remove(job_id);
    }

    /// Records the latest CPU load sample (0..1).
    pub fn set_cpu_load(&mut self, load: f64) {
        self.cpu_load = if load.is_finite() { load.clamp(0.0, 1.0) } else { 0.0 };
    }

    /// Stops accepting offers for good.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Whether `drain` was called.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Jobs running (not counting reservations).
    pub fn running(&self) -> usize {
        self.slots.values().filter(|s| **s == Slot::Running).count()
    }

    /// Running plus reserved.
    pub fn occupied(&self) -> usize {
        self.slots.len()
    }

    /// The status report for the server.
    pub fn report(&mut self, now: Instant) -> Report {
        self.expire(now);
        let available = self.refusal().is_none();
        Report {
            available,
            load: if available { self.cpu_load as f32 } else { 1.0 },
            job_count: self.slots.len().try_into().unwrap_or(u32::MAX),
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        if self.draining {
            Some(Refusal::Draining)
        } else if self.slots.len() >= self.limits.max_jobs as usize {
            Some(Refusal::Full)
        } else if self.cpu_load >= self.limits.load_threshold {
            Some(Refusal::Overloaded)
        } else {
            None
        }
    }

    fn expire(&mut self, now: Instant) {
        self.slots.retain(|_, s| match s {
            Slot::Reserved { until } => *until > now,
            Slot::Running => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    fn cap(max_jobs: u32) -> Capacity {
        Capacity::new(Limits { max_jobs, load_threshold: 0.7 })
    }

    #[test]
    fn two_simultaneous_offers_cannot_both_take_the_last_slot() {
        let t0 = clock::now();
        let mut c = cap(1);
        assert_eq!(c.offer("a", t0), Ok(()));
        assert_eq!(c.offer("b", t0), Err(Refusal::Full));
        let r = c.report(t0);
        assert!(!r.available);
        assert_eq!((r.job_count, r.load), (1, 1.0));
    }

    #[test]
    fn a_repeated_offer_keeps_its_slot() {
        let t0 = clock::now();
        let mut c = cap(1);
        c.offer("a", t0).unwrap();
        assert_eq!(c.offer("a", t0), Ok(()));
        assert_eq!(c.occupied(), 1);
    }

    #[test]
    fn reservation_becomes_running_and_release_frees_it() {
        let t0 = clock::now();
        let mut c = cap(2);
        c.offer("a", t0).unwrap();
        assert_eq!(c.running(), 0);
        c.assign("a", t0).unwrap();
        assert_eq!(c.running(), 1);
        // Long after the reservation TTL the running job still holds its slot.
        let later = t0 + RESERVATION_TTL * 10;
        assert_eq!(c.report(later).job_count, 1);
        c.release("a");
        assert_eq!(c.report(later).job_count, 0);
    }

    #[test]
    fn an_abandoned_reservation_expires() {
        let t0 = clock::now();
        let mut c = cap(1);
        c.offer("a", t0).unwrap();
        assert_eq!(c.offer("b", t0 + Duration::from_secs(1)), Err(Refusal::Full));
        assert_eq!(c.offer("b", t0 + RESERVATION_TTL + Duration::from_millis(1)), Ok(()));
    }

    #[test]
    fn a_running_job_is_never_offered_or_assigned_again() {
        let t0 = clock::now();
        let mut c = cap(5);
        c.offer("a", t0).unwrap();
        c.assign("a", t0).unwrap();
        assert_eq!(c.assign("a", t0), Err(Refusal::AlreadyRunning));
        assert_eq!(c.offer("a", t0), Err(Refusal::AlreadyRunning));
        assert_eq!(c.running(), 1);
        c.release("a");
        assert_eq!(c.assign("a", t0), Ok(()), "once it ended, the id may run again");
    }

    #[test]
    fn unoffered_assignment_only_runs_with_a_free_slot() {
        let t0 = clock::now();
        let mut c = cap(1);
        assert_eq!(c.assign("x", t0), Ok(()));
        assert_eq!(c.assign("y", t0), Err(Refusal::Full));
    }

    #[test]
    fn cpu_load_and_draining_refuse_with_their_reason() {
        let t0 = clock::now();
        let mut c = cap(10);
        c.set_cpu_load(0.75);
        assert_eq!(c.offer("a", t0), Err(Refusal::Overloaded));
        let r = c.report(t0);
        assert!(!r.available);
        assert_eq!(r.load, 1.0);
        c.set_cpu_load(0.5);
        assert!((c.report(t0).load - 0.5).abs() < 1e-6);
        c.set_cpu_load(f64::NAN);
        assert_eq!(c.offer("a", t0), Ok(()));
        c.drain();
        assert_eq!(c.offer("b", t0), Err(Refusal::Draining));
        assert!(!c.report(t0).available);
        assert!(c.is_draining());
    }

    #[test]
    fn load_is_cpu_not_slot_usage_until_full() {
        let t0 = clock::now();
        let mut c = cap(4);
        c.set_cpu_load(0.1);
        for job in ["a", "b", "c"] {
            c.offer(job, t0).unwrap();
        }
        let r = c.report(t0);
        assert!(r.available);
        assert!((r.load - 0.1).abs() < 1e-6, "3 of 4 slots taken still reads as the CPU load");
        c.offer("d", t0).unwrap();
        let r = c.report(t0);
        assert_eq!((r.available, r.load, r.job_count), (false, 1.0, 4));
    }
}
