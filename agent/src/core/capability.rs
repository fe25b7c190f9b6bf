//! What a provider does: speech to text, chat completions or text to speech — the name its
//! metrics, breakers, settings and errors are keyed by.

/// What a provider does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Speech to text.
    Stt,
    /// Chat completions.
    Llm,
    /// Text to speech.
    Tts,
}

impl Capability {
    /// All capabilities.
    pub const ALL: [Capability; 3] = [Capability::Stt, Capability::Llm, Capability::Tts];

    /// Lower-case name (labels, JSON, breaker names).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Stt => "stt",
            Capability::Llm => "llm",
            Capability::Tts => "tts",
        }
    }

    /// Prefix of its environment variables.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Capability::Stt => "STT",
            Capability::Llm => "LLM",
            Capability::Tts => "TTS",
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
