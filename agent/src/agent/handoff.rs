//! Handoffs: a tool hands the conversation to another agent ([`ToolContext::hand_off`]), as
//! a receptionist puts a caller through to billing. The call's result still goes to the LLM
//! and into the history; then the new agent takes over — its instructions, tools and hooks —
//! runs its [`Agent::on_enter`], and either says its greeting or answers the conversation so
//! far. Everything said before stays in the history, so the new agent knows what was asked.

use super::Agent;
use super::dynamic::BoxAgent;
use crate::tools::ToolContext;

/// A handoff a tool asked for.
pub struct Handoff {
    pub(crate) agent: BoxAgent,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff").field("to", &self.agent.name()).finish()
    }
}

impl Handoff {
    /// The agent to hand over to.
    pub fn new(agent: impl Agent) -> Self {
        Self { agent: Box::new(agent) }
    }

    /// Its name.
    pub fn name(&self) -> String {
        self.agent.name()
    }
}

impl ToolContext {
    /// Hands the conversation to `agent` once this step's tool calls are done (the last
    /// request of a step wins). The tool's own result still reaches the LLM's history.
    ///
    /// ```
    /// use voice_agent::agent::{Agent, PromptAgent};
    /// use voice_agent::tools::{FunctionTool, NoArguments, ToolContext};
    ///
    /// let transfer = FunctionTool::new("transfer_to_billing", "Puts the caller through to billing.",
    ///     |ctx: ToolContext, _: NoArguments| async move {
    ///         ctx.hand_off(PromptAgent::new("You handle billing questions.", Some("Billing here.".into())));
    ///         "transferred"
    ///     });
    /// # drop(transfer);
    /// ```
    pub fn hand_off(&self, agent: impl Agent) {
        self.leave(Box::new(Handoff::new(agent)));
    }

    /// The handoff a tool asked for, if any.
    pub(crate) fn take_handoff(&self) -> Option<Handoff> {
        self.take_left()?.downcast::<Handoff>().ok().map(|h| *h)
    }
}
