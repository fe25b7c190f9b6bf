//! How a tool call ended: the outcome the LLM's result and the metrics' label both follow.

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolOutcome {
    /// It returned a result.
    Ok,
    /// It returned an error.
    Failed,
    /// It ran past its time limit and was stopped.
    TimedOut,
    /// It panicked.
    Panicked,
    /// The arguments were not valid JSON or did not fit its type.
    InvalidArguments,
    /// No tool has that name.
    UnknownTool,
    /// The user interrupted before it finished.
    Cancelled,
}

impl ToolOutcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolOutcome::Ok => "ok",
            ToolOutcome::Failed => "failed",
            ToolOutcome::TimedOut => "timeout",
            ToolOutcome::Panicked => "panicked",
            ToolOutcome::InvalidArguments => "invalid_arguments",
            ToolOutcome::UnknownTool => "unknown_tool",
            ToolOutcome::Cancelled => "cancelled",
        }
    }

    /// Whether the LLM was given an error instead of a result.
    pub fn is_error(self) -> bool {
        self != ToolOutcome::Ok
    }
}
