//! ICE candidates in LiveKit's trickle format: `TrickleRequest.candidateInit` holds the JSON
//! of a browser `RTCIceCandidateInit`.

use serde::{Deserialize, Serialize};

/// The JSON carried in `TrickleRequest.candidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateInit {
    /// `candidate:…` attribute value (may be empty for end-of-candidates).
    pub candidate: String,
    /// m-line mid the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// m-line index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u32>,
    /// ICE ufrag the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// A trickle message was not valid candidate JSON.
#[derive(Debug, thiserror::Error)]
#[error("malformed trickle candidate: {0}")]
pub struct CandidateError(#[from] serde_json::Error);

impl CandidateInit {
    /// Parses the server's JSON.
    pub fn parse(json: &str) -> Result<Self, CandidateError> {
        Ok(serde_json::from_str(json)?)
    }

    /// A candidate of ours, for bundle (everything on mid "0", index 0).
    pub fn ours(candidate: String) -> Self {
        Self { candidate, sdp_mid: Some("0".into()), sdp_m_line_index: Some(0), username_fragment: None }
    }

    /// Serializes for `TrickleRequest.candidateInit`.
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The attribute value without the `a=` prefix some stacks include.
    pub fn attribute(&self) -> &str {
        self.candidate.trim().trim_start_matches("a=")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_browser_shape_and_round_trips() {
        let json = r#"{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abc"}"#;
        let c = CandidateInit::parse(json).unwrap();
        assert_eq!(c.sdp_mid.as_deref(), Some("0"));
        assert_eq!(c.username_fragment.as_deref(), Some("abc"));
        assert_eq!(CandidateInit::parse(&c.to_json()).unwrap(), c);
        assert!(c.attribute().starts_with("candidate:1 "));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(CandidateInit::parse("{not json").is_err());
        assert!(CandidateInit::parse("{}").is_err());
        let c = CandidateInit::parse(r#"{"candidate":"a=candidate:x"}"#).unwrap();
        assert_eq!(c.attribute(), "candidate:x");
    }
}
