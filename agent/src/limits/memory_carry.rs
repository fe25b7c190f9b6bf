//! The carrying half of the in-memory store (the fallback of a shared store): the shared
//! state it is shown, and what it hands back to merge.

use std::sync::Arc;

use super::{MemoryStore, lock};
use crate::core::carry::{Seen, SyncRule};
use crate::core::ledger::Ledger;
use crate::core::quota::{RATE_UNITS, Scope};
use crate::limits::store::Now;

/// One entity's share of a merge into the shared store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEntry {
    /// Whose ledger.
    pub scope: Scope,
    /// Identity or room name ("" for the global scope).
    pub id: Arc<str>,
    /// What to merge, per limit (may be empty: nothing but unshared amounts to forget).
    pub rules: Vec<SyncRule>,
    /// The unshared amounts this entry carries (forgotten once merged).
    pub sent: [i64; RATE_UNITS],
}

impl MemoryStore {
    /// Takes what the shared store left behind after a decision for `participant` and `room`
    /// (and the global scope) as this worker's copy. An entity this store cannot remember
    /// (full) is skipped: the copy is an aid, never a reason to refuse.
    pub fn observe(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        day: u32,
        seen: &[(Scope, Seen)],
        now: Now,
    ) {
        if seen.is_empty() {
            return;
        }
        let at = self.at(now);
        let q = &self.base;
        self.with_ledgers(q, participant, room, &at, |ledgers| {
            for (scope, l) in Scope::ALL.into_iter().zip(ledgers) {
                let Some(l) = l else { continue };
                for (_, s) in seen.iter().filter(|(sc, _)| *sc == scope) {
                    l.observe(q, scope, *s, day, &at);
                }
            }
        });
    }

    /// What to merge into the shared store: every remembered entity (`all`, after the store
    /// lost its data) or only those with unshared charges. Returns the UTC day of the day
    /// floors, too.
    pub fn sync_entries(&self, all: bool, now: Now) -> (u32, Vec<SyncEntry>) {
        let at = self.at(now);
        let (q, w) = (&self.base, self.weight());
        let keep = |l: &Ledger| l.has_unshared() || (all && !l.is_idle(&at));
        let entry = |scope: Scope, id: Arc<str>, l: &Ledger| SyncEntry {
            scope,
            id,
            rules: l.sync_rules(q, scope, w, &at),
            sent: l.unshared(),
        };
        let mut out = Vec::new();
        for (scope, keyed) in [(Scope::Participant, &self.participants), (Scope::Room, &self.rooms)] {
            out.extend(keyed.collect(keep).into_iter().map(|(id, l)| entry(scope, id, &l)));
        }
        let g = *lock(&self.global);
        if keep(&g) {
            out.push(entry(Scope::Global, Arc::from(""), &g));
        }
        (at.day, out)
    }

    /// Forgets the unshared amounts of `entries`: the shared store has counted them.
    pub fn mark_shared(&self, entries: &[SyncEntry]) {
        for e in entries {
            match e.scope {
                Scope::Participant => self.participants.update(&e.id, |l| l.mark_shared(&e.sent)),
                Scope::Room => self.rooms.update(&e.id, |l| l.mark_shared(&e.sent)),
                Scope::Global => lock(&self.global).mark_shared(&e.sent),
            }
        }
    }
}
