//! Agents behind a pointer: [`AnyAgent`] is [`Agent`] made object-safe (its hooks return
//! boxed futures), so a session can hold whichever agent is active ([`BoxAgent`]) and a
//! handoff can replace it with one of another type. [`Agents`] makes one agent per job.

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::chat::ChatContext;
use super::{Agent, TurnAction, UserTurn};
use crate::livekit::job::JobInfo;
use crate::tools::ToolSet;

/// [`Agent`] as a trait object; every `Agent` is one.
pub trait AnyAgent: Send + 'static {
    /// [`Agent::name`].
    fn name(&self) -> String;
    /// [`Agent::instructions`].
    fn instructions(&self) -> String;
    /// [`Agent::greeting`].
    fn greeting(&self) -> Option<String>;
    /// [`Agent::tools`].
    fn tools(&self) -> ToolSet;
    /// [`Agent::on_enter`].
    fn on_enter<'a>(&'a mut self, chat: &'a mut ChatContext) -> BoxFuture<'a, ()>;
    /// [`Agent::on_user_turn`].
    fn on_user_turn<'a>(
        &'a mut self,
        turn: &'a UserTurn,
        chat: &'a mut ChatContext,
    ) -> BoxFuture<'a, TurnAction>;
    /// The agent itself, to look at as its own type.
    fn as_any(&self) -> &dyn Any;
}

impl<A: Agent> AnyAgent for A {
    fn name(&self) -> String {
        Agent::name(self)
    }
    fn instructions(&self) -> String {
        Agent::instructions(self)
    }
    fn greeting(&self) -> Option<String> {
        Agent::greeting(self)
    }
    fn tools(&self) -> ToolSet {
        Agent::tools(self)
    }
    fn on_enter<'a>(&'a mut self, chat: &'a mut ChatContext) -> BoxFuture<'a, ()> {
        Box::pin(Agent::on_enter(self, chat))
    }
    fn on_user_turn<'a>(
        &'a mut self,
        turn: &'a UserTurn,
        chat: &'a mut ChatContext,
    ) -> BoxFuture<'a, TurnAction> {
        Box::pin(Agent::on_user_turn(self, turn, chat))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Any agent, boxed.
pub type BoxAgent = Box<dyn AnyAgent>;

/// Makes the agent of each job from the job's dispatch data. Cheap to clone.
///
/// ```
/// use voice_agent::agent::{Agents, PromptAgent};
/// use voice_agent::livekit::job::JobInfo;
///
/// let agents = Agents::new(|job: &JobInfo| PromptAgent::new(format!("You serve room {}.", job.room), None));
/// let job = JobInfo { room: "lobby".into(), ..JobInfo::default() };
/// assert_eq!(agents.make(&job).instructions(), "You serve room lobby.");
/// ```
#[derive(Clone)]
pub struct Agents {
    make: Arc<dyn Fn(&JobInfo) -> BoxAgent + Send + Sync>,
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents").finish_non_exhaustive()
    }
}

impl Agents {
    /// Agents made by `make`, one per job.
    pub fn new<A: Agent>(make: impl Fn(&JobInfo) -> A + Send + Sync + 'static) -> Self {
        Self { make: Arc::new(move |job| Box::new(make(job)) as BoxAgent) }
    }

    /// The agent of `job`.
    pub fn make(&self, job: &JobInfo) -> BoxAgent {
        (self.make)(job)
    }
}

/// The short name of a type (`front_desk::FrontDesk` → `FrontDesk`).
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_owned()
}
