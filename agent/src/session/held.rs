//! A reply held back until its turn is confirmed (preemptive replies,
//! [`crate::core::turn::preempt`]): the reply runs — LLM, first sentence's TTS — but waits at
//! [`Hold::wait`] before anything the user would notice (audio, captions, text). The session
//! keeps the [`Release`]; releasing lets the reply go on (at a moment the session passes in,
//! which the reply learns), dropping it leaves the reply waiting until its call is cancelled.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use voice_agent::session::held;
//! let (release, mut hold) = held::hold();
//! assert!(!hold.is_released());
//! let now = std::time::Instant::now();
//! release.release(now);
//! assert_eq!(hold.wait().await, now);
//! assert!(hold.is_released());
//! # });
//! ```

use std::time::Instant;

use tokio::sync::watch;

/// The session's side: lets the reply play.
#[derive(Debug)]
pub struct Release(watch::Sender<Option<Instant>>);

/// The reply's side: waits for the release.
#[derive(Debug, Clone)]
pub struct Hold(watch::Receiver<Option<Instant>>);

/// A hold and its release.
pub fn hold() -> (Release, Hold) {
    let (tx, rx) = watch::channel(None);
    (Release(tx), Hold(rx))
}

impl Release {
    /// The turn is confirmed at `now`: the reply goes on.
    pub fn release(&self, now: Instant) {
        self.0.send_replace(Some(now));
    }
}

impl Hold {
    /// Whether the reply may be heard.
    pub fn is_released(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Returns the moment of the release once released; never if the release was dropped
    /// unreleased (the reply's call is then cancelled, which the caller waits for beside this).
    pub async fn wait(&mut self) -> Instant {
        match self.0.wait_for(Option::is_some).await.ok().and_then(|at| *at) {
            Some(at) => at,
            None => std::future::pending().await,
        }
    }
}
