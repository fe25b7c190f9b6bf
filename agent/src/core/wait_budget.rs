//! How long a provider may keep a turn waiting for the rest of a response: until the turn's
//! deadline — moved on by the time the agent spent with what the provider had already sent
//! (speaking a sentence, playing audio), because then nobody was waiting for the provider.
//!
//! So a provider that trickles (one byte, an SSE comment, a silent sample before each idle
//! timeout) is cut at the turn's deadline, while a long answer that is read at the pace it
//! is spoken is not cut because speaking it takes longer than the deadline. Sans-IO: every
//! moment is passed in.
//!
//! ```
//! use std::time::Duration;
//! use voice_agent::core::wait_budget::{Bound, WaitBudget};
//!
//! let t0 = voice_agent::clock::now();
//! let mut b = WaitBudget::new(t0 + Duration::from_secs(10));
//! // Waiting at t0 with a 3 s idle timeout: the idle timeout comes first.
//! assert_eq!(b.wait_until(t0, Duration::from_secs(3)), (t0 + Duration::from_secs(3), Bound::Idle));
//! // An item is handed out at 2 s and the agent comes back for more at 7 s (it was speaking):
//! b.handed_out(t0 + Duration::from_secs(2));
//! b.resumed(t0 + Duration::from_secs(7));
//! // the deadline moved on by those 5 s.
//! let now = t0 + Duration::from_secs(13);
//! assert_eq!(b.wait_until(now, Duration::from_secs(3)), (t0 + Duration::from_secs(15), Bound::Deadline));
//! assert!(!b.spent(now) && b.spent(t0 + Duration::from_secs(15)));
//! ```

use std::time::{Duration, Instant};

/// Which bound ends the next wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The idle timeout (longest wait for the next bytes): a stall.
    Idle,
    /// The turn's deadline (moved on by the time the agent held the answer).
    Deadline,
}

/// The waiting a response may still cause.
#[derive(Debug, Clone)]
pub struct WaitBudget {
    deadline: Instant,
    /// Time the agent spent with items already handed out.
    held: Duration,
    /// When the last item was handed out, until the agent asks for more.
    handed_out: Option<Instant>,
}

impl WaitBudget {
    /// A budget ending at the turn's `deadline`.
    pub fn new(deadline: Instant) -> Self {
        Self { deadline, held: Duration::ZERO, handed_out: None }
    }

    /// An item was handed to the agent at `now`: the provider is not waited for until
    /// [`WaitBudget::resumed`].
    pub fn handed_out(&mut self, now: Instant) {
        self.handed_out.get_or_insert(now);
    }

    /// The agent asks for more at `now`.
    pub fn resumed(&mut self, now: Instant) {
        if let Some(t) = self.handed_out.take() {
            self.held += now.saturating_duration_since(t);
        }
    }

    /// The deadline, moved on by the time the agent held the answer.
    pub fn deadline(&self) -> Instant {
        self.deadline + self.held
    }

    /// Nothing of the budget is left at `now`.
    pub fn spent(&self, now: Instant) -> bool {
        now >= self.deadline()
    }

    /// When a wait starting at `now` must end at the latest, and which bound that is.
    pub fn wait_until(&self, now: Instant, idle: Duration) -> (Instant, Bound) {
        let idle_end = now + idle;
        let deadline = self.deadline();
        if deadline < idle_end { (deadline, Bound::Deadline) } else { (idle_end, Bound::Idle) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_trickle_is_cut_at_the_deadline() {
        let t0 = crate::clock::now();
        let mut b = WaitBudget::new(t0 + 10 * S);
        // Bytes that decode to nothing arrive every 2 s: nothing is handed out, nothing held.
        let mut now = t0;
        let mut waits = 0;
        loop {
            b.resumed(now);
            let (until, bound) = b.wait_until(now, 3 * S);
            if bound == Bound::Deadline && until <= now + 2 * S {
                now = until;
                break;
            }
            now += 2 * S;
            waits += 1;
        }
        assert_eq!((waits, now), (4, t0 + 10 * S));
        assert!(b.spent(now));
    }

    #[test]
    fn time_the_agent_holds_the_answer_does_not_count() {
        let t0 = crate::clock::now();
        let mut b = WaitBudget::new(t0 + 4 * S);
        for i in 0..10u32 {
            // Each second of audio arrives at once and takes a second to play.
            let now = t0 + i * S;
            b.resumed(now);
            assert!(!b.spent(now), "chunk {i}");
            b.handed_out(now);
        }
        b.resumed(t0 + 10 * S);
        assert_eq!(b.deadline(), t0 + 14 * S);
        // A second hand-out without a resume keeps the first moment.
        b.handed_out(t0 + 11 * S);
        b.handed_out(t0 + 12 * S);
        b.resumed(t0 + 13 * S);
        assert_eq!(b.deadline(), t0 + 16 * S);
        // Resuming twice adds nothing.
        b.resumed(t0 + 15 * S);
        assert_eq!(b.deadline(), t0 + 16 * S);
    }

    #[test]
    fn the_idle_timeout_comes_first_while_the_deadline_is_far() {
        let t0 = crate::clock::now();
        let b = WaitBudget::new(t0 + 30 * S);
        assert_eq!(b.wait_until(t0, 10 * S), (t0 + 10 * S, Bound::Idle));
        assert_eq!(b.wait_until(t0 + 25 * S, 10 * S), (t0 + 30 * S, Bound::Deadline));
        // Past the deadline: the wait ends at once.
        assert_eq!(b.wait_until(t0 + 31 * S, 10 * S), (t0 + 30 * S, Bound::Deadline));
    }
}
