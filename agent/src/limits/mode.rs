//! The limiter's mode — local, shared through Redis, or degraded — as stores report it and
//! `/readyz`, `/stats` and `limiter_mode{mode}` show it.

/// Which way limits are being decided right now (`limiter_mode{mode}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// In memory, this worker only (no Redis configured).
    Local,
    /// In Redis, shared by all workers.
    Shared,
    /// Redis configured but unreachable, slow, or being merged into after it lost its data:
    /// local decisions from the last shared state, each charge × N workers.
    Degraded,
}

impl Mode {
    /// All modes (for the gauge).
    pub const ALL: [Mode; 3] = [Mode::Local, Mode::Shared, Mode::Degraded];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Shared => "shared",
            Mode::Degraded => "degraded",
        }
    }
}
