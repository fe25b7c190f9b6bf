//! `/stats` read from Redis: current, limit and remaining per scope, on Redis's clock.

use super::{RedisStore, Result, bad};
use crate::core::ledger::LimitView;
use crate::core::quota::{Scope, Unit, Window};
use crate::limits::stats::{ScopeStats, Stats};
use crate::limits::store::Mode;

impl RedisStore {
    /// Current, limit and remaining for the asked scopes, on Redis's clock.
    pub async fn stats(&self, participant: Option<&str>, room: Option<&str>, mode: Mode) -> Result<Stats> {
        let (p, r) = (participant.unwrap_or(""), room.unwrap_or(""));
        let mut scopes = vec![Scope::Global];
        scopes.extend(participant.map(|_| Scope::Participant));
        scopes.extend(room.map(|_| Scope::Room));
        let (rules, args) = self.rules(&scopes, true, |_| 0);
        let keys = self.entity_keys(p, r);
        let reply = self.eval(&keys, [0, 0, 0], "view", &args).await?;
        if reply.len() != rules.len() + 1 {
            return Err(bad(&reply));
        }
        let sessions = self.sessions(&self.session_keys(p, r), "view", "").await?;
        let scope_stats = |scope: Scope, id: Option<&str>| {
            let mut views: Vec<LimitView> = rules
                .iter()
                .zip(&reply[1..])
                .filter(|(rule, _)| rule.scope == scope)
                .map(|(rule, &cur)| {
                    let limit = self.quotas.limit(scope, rule.unit, rule.window);
                    let current = u64::try_from(cur).unwrap_or(0);
                    LimitView {
                        unit: rule.unit,
                        window: rule.window,
                        current,
                        limit,
                        remaining: limit.saturating_sub(current),
                    }
                })
                .collect();
            let cost = views.iter().find(|v| v.unit == Unit::CostMicroUsd).map_or(0, |v| v.current);
            let limit = self.quotas.session_limit(scope);
            if limit > 0 {
                let current = sessions.get(scope as usize).map_or(0, |&n| u64::try_from(n).unwrap_or(0));
                views.push(LimitView {
                    unit: Unit::Sessions,
                    window: Window::Concurrent,
                    current,
                    limit,
                    remaining: limit.saturating_sub(current),
                });
            }
            ScopeStats::new(id, &self.quotas, scope, &views, cost)
        };
        Ok(Stats {
            mode: mode.as_str(),
            participant: participant.map(|p| scope_stats(Scope::Participant, Some(p))),
            room: room.map(|r| scope_stats(Scope::Room, Some(r))),
            global: scope_stats(Scope::Global, None),
        })
    }
}
