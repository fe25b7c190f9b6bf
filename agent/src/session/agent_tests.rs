//! The session running an agent with tools, on paused time: a tool turn (the LLM calls a
//! tool, the filler covers the wait, the answer uses the result, the history keeps the call),
//! a barge-in while a tool runs (the tool is stopped and the history says so), and a handoff
//! to another agent. Same rig as `driver_tests.rs`: an in-memory room, scripted providers and
//! ears.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::driver_tests::{quiet, start_agent, within};
use super::scripted::Answer;
use super::transcript::TOPIC_TRANSCRIPTION;
use crate::agent::{Agent, Agents, DEFAULT_FILLER, PromptAgent};
use crate::limits::LimitsConfig;
use crate::livekit::room::memory::SentText;
use crate::providers::{ChatItem, ToolChoice};
use crate::tools::{FunctionTool, NoArguments, ToolContext, ToolSet};

/// Arguments of `check_weather`.
#[derive(Deserialize, JsonSchema)]
struct City {
    /// The city.
    city: String,
}

/// Sets its flag when dropped (a tool stopped before it finished).
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// An agent with a weather tool that takes `delay`, and a transfer to billing.
#[derive(Clone)]
struct Forecaster {
    delay: Duration,
    asked: Arc<Mutex<Vec<String>>>,
    finished: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
}

impl Forecaster {
    fn new(delay: Duration) -> Self {
        Self { delay, asked: Arc::default(), finished: Arc::default(), dropped: Arc::default() }
    }

    fn agents(&self) -> Agents {
        let me = self.clone();
        Agents::new(move |_| me.clone())
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Agent for Forecaster {
    fn instructions(&self) -> String {
        "You tell the weather.".into()
    }

    fn tools(&self) -> ToolSet {
        let me = self.clone();
        ToolSet::new()
            .with(FunctionTool::new(
                "check_weather",
                "The weather in a city now.",
                move |_: ToolContext, c: City| {
                    let me = me.clone();
                    async move {
                        me.asked.lock().unwrap().push(c.city.clone());
                        let _guard = Dropped(me.dropped.clone());
                        tokio::time::sleep(me.delay).await;
                        me.finished.store(true, Ordering::SeqCst);
                        format!("sunny and 22 degrees in {}", c.city)
                    }
                },
            ))
            .with(FunctionTool::new(
                "transfer_to_billing",
                "Puts the caller through to billing.",
                |ctx: ToolContext, _: NoArguments| async move {
                    ctx.hand_off(PromptAgent::new(
                        "You handle billing.",
                        Some("Billing here, how can I help?".into()),
                    ));
                    "transferred"
                },
            ))
    }
}

fn agent_transcript_containing(t: &SentText, part: &str) -> bool {
    t.topic == TOPIC_TRANSCRIPTION && t.sender.is_empty() && t.closed.is_some() && t.text.contains(part)
}

fn tool_items(items: &[ChatItem]) -> Vec<&ChatItem> {
    items.iter().filter(|i| matches!(i, ChatItem::ToolCall { .. } | ChatItem::ToolOutput { .. })).collect()
}

#[tokio::test(start_paused = true)]
async fn a_tool_turn_covers_the_wait_and_answers_with_the_result() {
    let agent = Forecaster::new(Duration::from_secs(2));
    let mut r = start_agent(quiet(), &LimitsConfig::default(), agent.agents());
    r.join("alice").await;
    r.providers.answer(Answer::tool_call("check_weather", json!({"city": "Paris"})));
    r.providers.answer(Answer::text(["It is sunny ", "and 22 degrees in Paris."]));
    r.say("alice", 1.0, "what is the weather in Paris").await;
    let said = within("the answer", r.far.wait_text(|t| agent_transcript_containing(t, "22 degrees"))).await;
    assert!(said.text.starts_with(DEFAULT_FILLER), "the filler covered the tool's 2 s: {said:?}");
    assert_eq!(agent.asked(), ["Paris"], "the tool ran once, with the LLM's arguments");
    // The filler was rendered as the session started (with the notices): heard at once.
    let spoken = r.providers.spoken();
    assert_eq!(spoken.iter().filter(|s| *s == DEFAULT_FILLER).count(), 1, "rendered once: {spoken:?}");
    assert_eq!(spoken.last().map(String::as_str), Some("It is sunny and 22 degrees in Paris."), "{spoken:?}");

    let prompts = r.providers.prompts();
    assert_eq!(prompts.len(), 2, "one tool step, then the answer");
    assert_eq!(prompts[0].tools, ["check_weather", "transfer_to_billing"]);
    assert_eq!((prompts[0].tool_choice, prompts[0].follow_up), (ToolChoice::Auto, false));
    assert!(prompts[1].follow_up, "the second step is charged tokens, not another turn");
    let tools = tool_items(&prompts[1].items);
    assert!(
        matches!(tools[0], ChatItem::ToolCall { name, arguments, .. } if name == "check_weather" && arguments.contains("Paris"))
    );
    assert!(
        matches!(tools[1], ChatItem::ToolOutput { content, is_error: false, .. } if content.contains("22 degrees"))
    );

    // The next turn's request remembers the call, its result and the answer.
    r.providers.answer(Answer::text(["You're welcome."]));
    r.say("alice", 1.0, "thanks").await;
    r.agent_said("You're welcome.").await;
    let third = &r.providers.prompts()[2];
    assert_eq!(tool_items(&third.items).len(), 2, "{third:?}");
    let answer =
        third.items.iter().position(|i| matches!(i, ChatItem::Assistant(t) if t.contains("22 degrees")));
    let output = third.items.iter().position(|i| matches!(i, ChatItem::ToolOutput { .. }));
    assert!(
        output < answer && answer.is_some(),
        "the result comes before the answer that used it: {third:?}"
    );
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_barge_in_during_a_tool_stops_it_and_the_history_says_so() {
    let agent = Forecaster::new(Duration::from_secs(60));
    let mut r = start_agent(quiet(), &LimitsConfig::default(), agent.agents());
    r.join("alice").await;
    r.providers.answer(Answer::tool_call("check_weather", json!({"city": "Oslo"})));
    r.say("alice", 1.0, "what is the weather in Oslo").await;
    within("the tool running", async {
        while agent.asked().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    r.providers.answer(Answer::text(["Okay, never mind."]));
    r.say("alice", 1.0, "forget it").await;
    r.agent_said("Okay, never mind.").await;
    assert!(agent.dropped.load(Ordering::SeqCst), "the barge-in stopped the tool");
    assert!(!agent.finished.load(Ordering::SeqCst), "the tool never finished");
    let prompts = r.providers.prompts();
    assert_eq!(prompts.len(), 2, "no step after the cancelled tool");
    let tools = tool_items(&prompts[1].items);
    assert_eq!(tools.len(), 2, "the call stays, answered: {tools:?}");
    assert!(
        matches!(tools[1], ChatItem::ToolOutput { content, is_error: true, .. } if content.contains("cancelled"))
    );
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_tool_hands_the_call_to_another_agent() {
    let agent = Forecaster::new(Duration::ZERO);
    let mut r = start_agent(quiet(), &LimitsConfig::default(), agent.agents());
    r.join("alice").await;
    r.providers.answer(Answer::tool_call("transfer_to_billing", json!({})));
    r.say("alice", 1.0, "I have a question about my bill").await;
    r.agent_said("Billing here, how can I help?").await;
    assert_eq!(r.providers.prompts().len(), 1, "the new agent greets; no second request");

    r.providers.answer(Answer::text(["Your bill is paid."]));
    r.say("alice", 1.0, "is my bill paid").await;
    r.agent_said("Your bill is paid.").await;
    let next = &r.providers.prompts()[1];
    assert_eq!(next.system.as_deref(), Some("You handle billing."));
    assert!(next.tools.is_empty(), "billing has no tools");
    assert_eq!(tool_items(&next.items).len(), 2, "the transfer is remembered");
    assert!(next.items.iter().any(|i| matches!(i, ChatItem::Assistant(t) if t.starts_with("Billing here"))));
    r.end().await;
}
