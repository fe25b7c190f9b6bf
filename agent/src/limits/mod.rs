//! Where limits are counted: the store trait, the in-memory store, the Redis store with its
//! degraded fallback, and the snapshots and metrics that make them visible.
//!
//! - [`store`]: [`LimitStore`] and its request/answer types.
//! - [`memory`]: [`MemoryStore`], the single-worker default.
//! - [`stats`]: `/stats` and `/readyz` JSON.

pub mod memory;
pub mod stats;
pub mod store;

pub use memory::MemoryStore;
pub use store::{Decision, LimitStore, Mode, Now, Origin, Request, Reservation, SessionLease};
