//! A reply held back until its turn is confirmed (preemptive replies,
//! [`crate::core::turn::preempt`]): the reply runs — LLM, first sentence's TTS — but waits at
//! [`Hold::wait`] before anything the user would notice (audio, captions, text). The session
//! keeps the [`Release`]; releasing lets the reply go on, dropping it leaves the reply waiting
//! until its call is cancelled.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use voice_agent::session::held;
//! let (release, mut hold) = held::hold();
//! assert!(!hold.is_released());
//! release.release();
//! hold.wait().await;
//! assert!(hold.is_released());
//! # });
//! ```

use tokio::sync::watch;

/// The session's side: lets the reply play.
#[derive(Debug)]
pub struct Release(watch::Sender<bool>);

/// The reply's side: waits for the release.
#[derive(Debug, Clone)]
pub struct Hold(watch::Receiver<bool>);

/// A hold and its release.
pub fn hold() -> (Release, Hold) {
    let (tx, rx) = watch::channel(false);
    (Release(tx), Hold(rx))
}

impl Release {
    /// The turn is confirmed: the reply goes on.
    pub fn release(&self) {
        self.0.send_replace(true);
    }
}

impl Hold {
    /// Whether the reply may be heard.
    pub fn is_released(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once released; never if the release was dropped unreleased (the reply's call
    /// is then cancelled, which the caller waits for beside this).
    pub async fn wait(&mut self) {
        let released = self.0.wait_for(|released| *released).await.is_ok();
        if !released {
            std::future::pending::<()>().await;
        }
    }
}
