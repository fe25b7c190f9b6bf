//! What the session asks at each pause: has the speaker finished? [`EndOfTurn`] is the seam;
//! the Smart Turn service ([`TurnDetector`]) implements it, and [`ScriptedEndOfTurn`] gives
//! fixed answers for tests. The turn machine decides what the answer means
//! ([`crate::core::endpoint`]).

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use crate::smart_turn::{DetectError, TurnDetector};

/// An end-of-turn model.
pub trait EndOfTurn: Send + Sync {
    /// The probability that the speaker of `pcm` (16 kHz mono, their turn so far) has
    /// finished. Dropping the future withdraws the question.
    fn predict(&self, pcm: Vec<i16>) -> BoxFuture<'static, Result<f32, DetectError>>;
}

impl EndOfTurn for TurnDetector {
    fn predict(&self, pcm: Vec<i16>) -> BoxFuture<'static, Result<f32, DetectError>> {
        let detector = self.clone();
        Box::pin(async move { TurnDetector::predict(&detector, pcm).await })
    }
}

/// Answers set by a test: each question takes the next answer; the last one repeats.
#[derive(Debug, Clone, Default)]
pub struct ScriptedEndOfTurn {
    answers: Arc<Mutex<Vec<Result<f32, DetectError>>>>,
    asked: Arc<Mutex<Vec<usize>>>,
    /// How long each answer takes (tokio time).
    delay: std::time::Duration,
}

impl ScriptedEndOfTurn {
    /// A model that answers `answers` in order (the last one for ever; with none, it fails).
    pub fn new(answers: Vec<Result<f32, DetectError>>) -> Self {
        Self { answers: Arc::new(Mutex::new(answers)), asked: Arc::default(), delay: Default::default() }
    }

    /// The same model taking `delay` for each answer, like a real one on a busy machine.
    pub fn with_delay(mut self, delay: std::time::Duration) -> Self {
        self.delay = delay;
        self
    }

    /// How many samples each question carried, in order.
    pub fn asked(&self) -> Vec<usize> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl EndOfTurn for ScriptedEndOfTurn {
    fn predict(&self, pcm: Vec<i16>) -> BoxFuture<'static, Result<f32, DetectError>> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).push(pcm.len());
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match answers.len() {
            0 => Err(DetectError::Stopped),
            1 => answers[0].clone(),
            _ => answers.remove(0),
        };
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            answer
        })
    }
}
