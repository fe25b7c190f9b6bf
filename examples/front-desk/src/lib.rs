//! A restaurant front desk as a voice agent: it checks free tables, books and cancels, over
//! an in-memory booking book ([`store`]). Its branch comes from the job's dispatch metadata
//! (`{"branch": "Harbour Street"}`); opening hours are answered by a hook without the LLM.
//!
//! Its logic is tested turn by turn with the library's harness (`tests/harness.rs`); the
//! binary (`src/main.rs`) runs it as a LiveKit worker.

pub mod store;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use voice_agent::agent::{Agent, ChatContext, JobInfo, TurnAction, UserTurn};
use voice_agent::tools::{FunctionTool, ToolContext, ToolSet};

pub use store::Store;

/// Arguments of `check_availability`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Availability {
    /// The time, "HH:MM" in 24-hour form, e.g. "19:30".
    pub time: String,
}

/// Arguments of `book_table`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct BookTable {
    /// The guest's name.
    pub name: String,
    /// How many people.
    pub people: u32,
    /// The time, "HH:MM" in 24-hour form, e.g. "19:30".
    pub time: String,
}

/// Arguments of `cancel_booking`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CancelBooking {
    /// The booking reference, e.g. "R-1001".
    pub reference: String,
}

/// What the dispatch may tell the front desk.
#[derive(Debug, Default, Deserialize)]
struct Dispatch {
    #[serde(default)]
    branch: Option<String>,
}

/// Spoken for questions about opening hours (no LLM needed).
pub const OPENING_HOURS: &str = "We are open every day from six to eleven in the evening.";

/// The front desk of one call.
#[derive(Debug, Clone)]
pub struct FrontDesk {
    branch: String,
    store: Store,
}

impl FrontDesk {
    /// The front desk for a job: the branch from its metadata, a fresh booking book.
    pub fn new(job: &JobInfo) -> Self {
        Self::with_store(job, Store::new(2))
    }

    /// The front desk over a given booking book.
    pub fn with_store(job: &JobInfo, store: Store) -> Self {
        let branch =
            job.metadata_as::<Dispatch>().ok().and_then(|d| d.branch).unwrap_or_else(|| "Main Square".into());
        Self { branch, store }
    }

    /// The booking book.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl Agent for FrontDesk {
    fn instructions(&self) -> String {
        format!(
            "You are the front desk of Trattoria Rustica, {} branch, on the phone. Book tables with the \
             tools: check availability when asked, book only with a name, party size and time, and \
             read the booking reference back. Times are 24-hour HH:MM. Answer in one or two short \
             spoken sentences, no lists.",
            self.branch
        )
    }

    fn greeting(&self) -> Option<String> {
        Some(format!("Trattoria Rustica, {} branch. How can I help?", self.branch))
    }

    fn tools(&self) -> ToolSet {
        let (s1, s2, s3) = (self.store.clone(), self.store.clone(), self.store.clone());
        ToolSet::new()
            .with(FunctionTool::new(
                "check_availability",
                "How many tables are free at a time tonight.",
                move |_: ToolContext, a: Availability| {
                    let store = s1.clone();
                    async move {
                        let free = store.free_tables(&a.time).await.map_err(|e| e.to_string())?;
                        Ok::<_, String>(json!({"time": a.time, "free_tables": free}))
                    }
                },
            ))
            .with(FunctionTool::new(
                "book_table",
                "Books a table tonight; returns the booking reference.",
                move |_: ToolContext, b: BookTable| {
                    let store = s2.clone();
                    async move {
                        let booking =
                            store.book(&b.name, b.people, &b.time).await.map_err(|e| e.to_string())?;
                        Ok::<_, String>(format!(
                            "Booked: reference {} for {} people at {} under {}.",
                            booking.reference, booking.people, booking.time, booking.name
                        ))
                    }
                },
            ))
            .with(FunctionTool::new(
                "cancel_booking",
                "Cancels a booking by its reference.",
                move |_: ToolContext, c: CancelBooking| {
                    let store = s3.clone();
                    async move {
                        let b = store.cancel(&c.reference).await.map_err(|e| e.to_string())?;
                        Ok::<_, String>(format!("Cancelled {} ({} at {}).", b.reference, b.name, b.time))
                    }
                },
            ))
    }

    async fn on_user_turn(&mut self, turn: &UserTurn, _chat: &mut ChatContext) -> TurnAction {
        let text = turn.text.to_lowercase();
        if text.contains("opening hours") || text.contains("when are you open") {
            return TurnAction::Say(OPENING_HOURS.to_owned());
        }
        TurnAction::Respond
    }
}
