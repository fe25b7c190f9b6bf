//! What one turn produced ([`RunResult`], a list of [`RunEvent`]s) and assertions that read
//! like the conversation: "next event is a call to `book_table` with `{people: 4}`", "then a
//! message containing …", "no more events". A failed assertion panics with every event of the
//! turn and a marker at the one it stopped on.

use serde_json::Value;

/// One thing an agent did in a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// An answer, in words (from the LLM or a hook).
    Message(String),
    /// A sentence spoken while tools ran: the filler, or what a tool said.
    Said(String),
    /// A tool call.
    FunctionCall {
        /// The tool.
        name: String,
        /// The arguments as the LLM sent them (`{}` when they were broken).
        arguments: Value,
    },
    /// A tool's result.
    FunctionOutput {
        /// The tool.
        name: String,
        /// What the LLM reads.
        content: String,
        /// Whether it is an error.
        is_error: bool,
    },
    /// A tool handed the conversation to another agent.
    Handoff {
        /// The new agent's name.
        to: String,
    },
}

/// Everything one turn did.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// The events, in order.
    pub events: Vec<RunEvent>,
    /// The turn was interrupted (barge-in).
    pub interrupted: bool,
    /// The LLM failed before answering (a voice session would say its apology).
    pub error: Option<crate::providers::ProviderError>,
}

impl RunResult {
    /// Assertions over the events, from the first.
    pub fn expect(&self) -> Expect<'_> {
        Expect { events: &self.events, at: 0 }
    }

    /// Everything said in words (messages and sentences spoken while tools ran), joined.
    pub fn spoken(&self) -> String {
        let parts: Vec<&str> = self
            .events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Message(t) | RunEvent::Said(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        parts.join(" ")
    }
}

/// A cursor over a turn's events.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    events: &'a [RunEvent],
    at: usize,
}

impl<'a> Expect<'a> {
    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        let mut lines = vec![format!("expected {what}; the turn's events:")];
        for (i, e) in self.events.iter().enumerate() {
            let mark = if i + 1 == self.at || (self.at == 0 && i == 0) { ">>" } else { "  " };
            lines.push(format!("{mark} {i}: {e:?}"));
        }
        if self.events.is_empty() {
            lines.push("   (none)".into());
        }
        panic!("{}", lines.join("\n"));
    }

    /// The next event, whatever it is.
    #[track_caller]
    pub fn next_event(&mut self) -> EventAssert<'_, 'a> {
        if self.at >= self.events.len() {
            self.fail("another event, but none is left");
        }
        self.at += 1;
        EventAssert { cursor: self }
    }

    /// Skips the next event if it is a spoken sentence (filler) — for tests that do not care.
    pub fn skip_said(&mut self) -> &mut Self {
        while matches!(self.events.get(self.at), Some(RunEvent::Said(_))) {
            self.at += 1;
        }
        self
    }

    /// No event is left.
    #[track_caller]
    pub fn no_more_events(&mut self) {
        if self.at < self.events.len() {
            self.at += 1;
            self.fail("no more events");
        }
    }

    /// Some event of the turn (anywhere) is a call to `name`.
    #[track_caller]
    pub fn contains_function_call(&self, name: &str) -> &Value {
        self.events
            .iter()
            .find_map(|e| match e {
                RunEvent::FunctionCall { name: n, arguments } if n == name => Some(arguments),
                _ => None,
            })
            .unwrap_or_else(|| self.fail(&format!("a call to `{name}` somewhere")))
    }
}

/// One event under test.
#[derive(Debug)]
pub struct EventAssert<'c, 'a> {
    cursor: &'c mut Expect<'a>,
}

impl<'a> EventAssert<'_, 'a> {
    fn event(&self) -> &'a RunEvent {
        &self.cursor.events[self.cursor.at - 1]
    }

    /// It is a message; returns its text for further checks.
    #[track_caller]
    pub fn is_message(self) -> TextAssert<'a> {
        match self.event() {
            RunEvent::Message(t) => TextAssert { text: t, what: "message" },
            _ => self.cursor.fail("a message"),
        }
    }

    /// It is a sentence spoken while tools ran (filler or a tool's own words).
    #[track_caller]
    pub fn is_said(self) -> TextAssert<'a> {
        match self.event() {
            RunEvent::Said(t) => TextAssert { text: t, what: "spoken sentence" },
            _ => self.cursor.fail("a sentence spoken while tools ran"),
        }
    }

    /// It is a call to `name`.
    #[track_caller]
    pub fn is_function_call(self, name: &str) -> CallAssert<'a> {
        match self.event() {
            RunEvent::FunctionCall { name: n, arguments } if n == name => CallAssert { arguments },
            _ => self.cursor.fail(&format!("a call to `{name}`")),
        }
    }

    /// It is a handoff to the agent named `to`.
    #[track_caller]
    pub fn is_handoff(self, to: &str) {
        match self.event() {
            RunEvent::Handoff { to: t } if t == to => {}
            _ => self.cursor.fail(&format!("a handoff to {to}")),
        }
    }

    /// It is the result of a call to `name`.
    #[track_caller]
    pub fn is_function_output(self, name: &str) -> OutputAssert<'a> {
        match self.event() {
            RunEvent::FunctionOutput { name: n, content, is_error } if n == name => {
                OutputAssert { content, is_error: *is_error }
            }
            _ => self.cursor.fail(&format!("the result of `{name}`")),
        }
    }
}

/// Checks on a text.
#[derive(Debug, Clone, Copy)]
pub struct TextAssert<'a> {
    /// The text.
    pub text: &'a str,
    what: &'static str,
}

impl TextAssert<'_> {
    /// The text contains `part` (case-insensitive).
    #[track_caller]
    pub fn containing(self, part: &str) -> Self {
        assert!(
            self.text.to_lowercase().contains(&part.to_lowercase()),
            "expected a {} containing {part:?}, got {:?}",
            self.what,
            self.text
        );
        self
    }
}

/// Checks on a tool call.
#[derive(Debug, Clone, Copy)]
pub struct CallAssert<'a> {
    /// The arguments.
    pub arguments: &'a Value,
}

impl CallAssert<'_> {
    /// Every field of `expected` is in the arguments with that value (other fields may be
    /// there too): `with_arguments(json!({"people": 4}))`.
    #[track_caller]
    pub fn with_arguments(self, expected: Value) -> Self {
        assert!(
            is_subset(&expected, self.arguments),
            "expected arguments with {expected}, got {}",
            self.arguments
        );
        self
    }
}

/// Checks on a tool result.
#[derive(Debug, Clone, Copy)]
pub struct OutputAssert<'a> {
    /// What the LLM reads.
    pub content: &'a str,
    /// Whether it is an error.
    pub is_error: bool,
}

impl OutputAssert<'_> {
    /// The result is not an error.
    #[track_caller]
    pub fn is_ok(self) -> Self {
        assert!(!self.is_error, "expected a result, got the error {:?}", self.content);
        self
    }

    /// The result is an error.
    #[track_caller]
    pub fn is_error(self) -> Self {
        assert!(self.is_error, "expected an error, got the result {:?}", self.content);
        self
    }

    /// The content contains `part` (case-insensitive).
    #[track_caller]
    pub fn containing(self, part: &str) -> Self {
        assert!(
            self.content.to_lowercase().contains(&part.to_lowercase()),
            "expected a result containing {part:?}, got {:?}",
            self.content
        );
        self
    }
}

/// Whether `small` is contained in `big`: objects field by field (recursively), anything
/// else equal.
pub fn is_subset(small: &Value, big: &Value) -> bool {
    match (small, big) {
        (Value::Object(s), Value::Object(b)) => {
            s.iter().all(|(k, v)| b.get(k).is_some_and(|bv| is_subset(v, bv)))
        }
        _ => small == big,
    }
}
