//! The agent's answer as owned events on a channel: [`Relay`] is the [`ReplySink`] the agent
//! runner writes to, so the turn's voice ([`super::reply`]) can speak what comes while it
//! also watches the clock (the thinking filler, a slow LLM's first clause) — the runner's
//! future is polled beside it, never inside it.

use tokio::sync::mpsc;

use crate::agent::{ChatItem, ReplyEvent, ReplySink};

/// Events queued between the runner and the voice at most (the runner waits beyond that).
pub const RELAY_QUEUE: usize = 64;

/// One [`ReplyEvent`], owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// A piece of the answer's text, to speak as sentences complete.
    Text(String),
    /// A sentence to speak at once (a tool's words, the tool filler).
    Said(String),
    /// An item the conversation keeps (answer, tool call, tool result).
    Item(ChatItem),
    /// A tool handed the conversation to this agent.
    Handoff(String),
    /// The stream broke off: the unfinished sentence is not to be spoken.
    BrokeOff,
}

impl From<ReplyEvent<'_>> for Heard {
    fn from(event: ReplyEvent<'_>) -> Self {
        match event {
            ReplyEvent::Text(t) => Heard::Text(t.to_owned()),
            ReplyEvent::Said(s) => Heard::Said(s.to_owned()),
            ReplyEvent::Item(i) => Heard::Item(i.clone()),
            ReplyEvent::Handoff(to) => Heard::Handoff(to.to_owned()),
            ReplyEvent::BrokeOff => Heard::BrokeOff,
        }
    }
}

/// Sends every event to the voice; when the voice is gone (the turn was cancelled), drops them.
#[derive(Debug)]
pub struct Relay(pub mpsc::Sender<Heard>);

impl ReplySink for Relay {
    async fn on_event(&mut self, event: ReplyEvent<'_>) {
        let _ = self.0.send(Heard::from(event)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_arrive_owned_and_in_order() {
        let (tx, mut rx) = mpsc::channel(RELAY_QUEUE);
        let mut relay = Relay(tx);
        let item = ChatItem::Assistant("Hi.".into());
        relay.on_event(ReplyEvent::Text("Hi")).await;
        relay.on_event(ReplyEvent::Item(&item)).await;
        relay.on_event(ReplyEvent::Handoff("Billing")).await;
        drop(relay);
        let mut got = Vec::new();
        while let Some(h) = rx.recv().await {
            got.push(h);
        }
        assert_eq!(got, [Heard::Text("Hi".into()), Heard::Item(item), Heard::Handoff("Billing".into())]);
    }
}
