//! Settling a limiter reservation exactly once: with the real usage when a call ends, or —
//! when a stream is dropped mid-way — in a background task with what was used so far.

use std::sync::Arc;

use crate::core::quota::Usage;
use crate::limits::{Limiter, Now, Reservation};

/// A reservation still to be settled.
pub(crate) struct Settlement {
    limiter: Arc<Limiter>,
    reservation: Option<Reservation>,
}

impl Settlement {
    pub fn new(limiter: Arc<Limiter>, reservation: Reservation) -> Self {
        Self { limiter, reservation: Some(reservation) }
    }

    /// What was reserved.
    pub fn reserved(&self) -> Usage {
        self.reservation.as_ref().map(|r| *r.reserved()).unwrap_or_default()
    }

    /// Settles now with `actual`, priced for `model`.
    pub async fn settle(&mut self, model: &str, actual: Usage) {
        if let Some(r) = self.reservation.take() {
            self.limiter.settle(&r, model, actual, Now::read()).await;
        }
    }

    /// Settles from synchronous code (a `Drop`): on the runtime if there is one.
    pub fn settle_later(&mut self, model: &str, actual: Usage) {
        let Some(r) = self.reservation.take() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime to settle a limiter reservation on; the reservation stands");
            return;
        };
        let (limiter, model) = (Arc::clone(&self.limiter), model.to_owned());
        rt.spawn(async move { limiter.settle(&r, &model, actual, Now::read()).await });
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        // Nothing is known to have been used: give the reservation back, keeping only the turn.
        let keep = Usage { turns: self.reserved().turns, ..Usage::default() };
        self.settle_later("", keep);
    }
}
