//! Keeps a fixed set of named threads alive: a thread found finished while the server runs
//! (a panic, or an early return) is started again and counted.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A thread body; it returns only when asked to stop.
pub(crate) type Body = Arc<dyn Fn() + Send + Sync>;

struct Slot {
    name: String,
    body: Body,
    handle: Option<JoinHandle<()>>,
}

/// The supervised threads.
#[derive(Default)]
pub(crate) struct Supervisor {
    slots: Vec<Slot>,
}

fn spawn(name: &str, body: &Body) -> io::Result<JoinHandle<()>> {
    let body = body.clone();
    std::thread::Builder::new().name(name.to_owned()).spawn(move || body())
}

impl Supervisor {
    /// Starts a supervised thread.
    pub(crate) fn start(&mut self, name: &str, body: Body) -> io::Result<()> {
        let handle = spawn(name, &body)?;
        self.slots.push(Slot { name: name.to_owned(), body, handle: Some(handle) });
        Ok(())
    }

    /// Restarts every thread that has ended; returns how many were found dead. A thread that
    /// cannot be started now (no memory, no descriptors) is tried again on the next check.
    pub(crate) fn check(&mut self) -> u64 {
        let mut dead = 0;
        for slot in &mut self.slots {
            if slot.handle.as_ref().is_some_and(JoinHandle::is_finished) {
                dead += 1;
                if let Some(h) = slot.handle.take() {
                    match h.join() {
                        Err(panic) => {
                            let what = panic
                                .downcast_ref::<&str>()
                                .map(|s| (*s).to_owned())
                                .or_else(|| panic.downcast_ref::<String>().cloned())
                                .unwrap_or_default();
                            tracing::error!(thread = %slot.name, panic = %what, "health thread died; restarting it");
                        }
                        Ok(()) => tracing::error!(thread = %slot.name, "health thread ended; restarting it"),
                    }
                }
            }
            if slot.handle.is_none() {
                match spawn(&slot.name, &slot.body) {
                    Ok(h) => slot.handle = Some(h),
                    Err(e) => {
                        tracing::error!(thread = %slot.name, error = %e, "cannot restart health thread; will retry")
                    }
                }
            }
        }
        dead
    }

    /// Waits for every thread (after they were told to stop).
    pub(crate) fn join_all(&mut self) {
        for slot in &mut self.slots {
            if let Some(h) = slot.handle.take() {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn dead_threads_are_restarted_and_counted() {
        let runs = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (runs.clone(), stop.clone());
        let body: Body = Arc::new(move || {
            if r.fetch_add(1, Ordering::SeqCst) < 2 {
                panic!("deliberate test panic");
            }
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut sup = Supervisor::default();
        sup.start("test-thread", body).unwrap();
        let mut restarts = 0;
        for _ in 0..2000 {
            restarts += sup.check();
            if runs.load(Ordering::SeqCst) >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(restarts, 2);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(sup.check(), 0, "the third run is alive");
        stop.store(true, Ordering::SeqCst);
        sup.join_all();
    }
}
