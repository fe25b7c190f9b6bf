//! Merging into Redis (after local decisions, or to rebuild an emptied Redis) and joining its
//! generation.

use std::sync::atomic::Ordering;

use super::{GENERATION_TTL_MS, RedisStore, RedisStoreError, Result, bad};
use crate::limits::memory::SyncEntry;

impl RedisStore {
    /// Merges what this worker counted into Redis: `restore` after Redis lost everything
    /// (the highest floor of any worker plus every unshared amount), otherwise a flush (at
    /// least the floor, plus the unshared amount). `day` is the UTC day of the day floors.
    pub async fn merge(&self, entries: &[SyncEntry], restore: bool, day: u32) -> Result<()> {
        let mut keys = Vec::with_capacity(entries.len());
        let mut args = Vec::new();
        for e in entries.iter().filter(|e| !e.rules.is_empty()) {
            keys.push(self.entity_key(e.scope, &e.id));
            for r in &e.rules {
                let limit = i64::try_from(r.limit).unwrap_or(i64::MAX);
                let floor = i64::try_from(r.floor).unwrap_or(i64::MAX);
                args.extend([keys.len() as i64, r.unit as i64, r.window as i64, limit, r.unshared, floor]);
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        let mode = if restore { "restore" } else { "flush" };
        match self.eval(&keys, [0, 0, i64::from(day)], mode, &args).await?.as_slice() {
            [1] => Ok(()),
            other => Err(bad(other)),
        }
    }

    /// Sets the generation (a fresh `candidate` unless Redis already has one) and takes the
    /// one in force as this worker's: call after merging everything this worker knows.
    pub async fn adopt_generation(&self, candidate: u64) -> Result<u64> {
        let mut c = self.conn.get()?;
        let mut inv = self.conn.scripts[2].prepare_invoke();
        inv.key(self.generation_key()).arg("adopt").arg(candidate.max(1).to_string()).arg(GENERATION_TTL_MS);
        let raw: String = inv.invoke_async(&mut c).await?;
        let generation = raw.parse::<u64>().map_err(|_| RedisStoreError::Reply(raw))?;
        self.generation.store(generation, Ordering::Relaxed);
        Ok(generation)
    }
}
