//! The in-memory store's maps: entities (participants or rooms) in 16 mutex-guarded shards,
//! each a hash table keyed by identity, capped and pruned of idle entries.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::lock;
use crate::core::ledger::{At, Ledger};

pub(super) const SHARDS: usize = 16;

/// A fast seeded hash (identities are short strings; SipHash would dominate a decision).
type Hasher = foldhash::fast::RandomState;
/// A hash table keyed by identity; the hash is computed once per decision and used both to
/// pick the shard and to find the entry.
pub(super) type Map = HashTable<(Arc<str>, Ledger)>;
pub(super) type Shard = Mutex<Map>;

pub(super) struct Keyed {
    shards: [Shard; SHARDS],
    hasher: Hasher,
    cap_per_shard: usize,
}

impl Keyed {
    pub(super) fn new(max_keys: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(Map::new())),
            hasher: Hasher::default(),
            cap_per_shard: max_keys.div_ceil(SHARDS).max(1),
        }
    }

    pub(super) fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(super) fn shard(&self, hash: u64) -> &Shard {
        // The low bits pick the bucket inside the table; use high bits for the shard.
        &self.shards[(hash >> 59) as usize % SHARDS]
    }

    /// Every remembered ledger that `keep` selects, copied.
    pub(super) fn collect(&self, keep: impl Fn(&Ledger) -> bool) -> Vec<(Arc<str>, Ledger)> {
        let mut out = Vec::new();
        for s in &self.shards {
            out.extend(lock(s).iter().filter(|(_, l)| keep(l)).map(|(k, l)| (k.clone(), *l)));
        }
        out
    }

    /// Runs `f` on `key`'s ledger if it is remembered.
    pub(super) fn update(&self, key: &str, f: impl FnOnce(&mut Ledger)) {
        let h = self.hash(key);
        if let Some((_, l)) = lock(self.shard(h)).find_mut(h, |(k, _)| **k == *key) {
            f(l);
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<Ledger> {
        let h = self.hash(key);
        lock(self.shard(h)).find(h, |(k, _)| **k == *key).map(|(_, l)| *l)
    }

    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    pub(super) fn prune(&self, at: &At) -> usize {
        self.shards.iter().map(|s| self.prune_map(&mut lock(s), at)).sum()
    }

    pub(super) fn prune_map(&self, map: &mut Map, at: &At) -> usize {
        let before = map.len();
        map.retain(|(_, l)| !l.is_idle(at));
        if map.capacity() > 64 && map.len() < map.capacity() / 4 {
            map.shrink_to_fit(|(k, _)| self.hasher.hash_one(&**k));
        }
        before - map.len()
    }

    /// The ledger for `key` (hash `h`), created if missing; `None` if the shard is full even
    /// after pruning.
    pub(super) fn entry<'m>(
        &self,
        map: &'m mut Map,
        h: u64,
        key: &Arc<str>,
        at: &At,
    ) -> Option<&'m mut Ledger> {
        if map.len() >= self.cap_per_shard && map.find(h, |(k, _)| **k == **key).is_none() {
            self.prune_map(map, at);
            if map.len() >= self.cap_per_shard {
                return None;
            }
        }
        let rehash = |(k, _): &(Arc<str>, Ledger)| self.hasher.hash_one(&**k);
        let slot = match map.entry(h, |(k, _)| **k == **key, rehash) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert((key.clone(), Ledger::default())).into_mut(),
        };
        Some(&mut slot.1)
    }
}
