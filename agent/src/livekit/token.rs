//! Access tokens (JWTs) and endpoint URLs for the LiveKit server.
//!
//! The worker authenticates its `/agent` connection with a token whose video grant has
//! `agent: true`; rooms are joined with the token the server hands out in a `JobAssignment`.
//! Room-join tokens minted here are for tests, benchmarks and tools.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, AccessTokenError, VideoGrants};

use crate::secret::Secret;

/// A token could not be minted (empty key/secret or inconsistent claims).
#[derive(Debug, thiserror::Error)]
#[error("cannot mint a LiveKit access token: {0}")]
pub struct TokenError(#[from] AccessTokenError);

/// How long a worker token stays valid; a fresh one is minted on every (re)connect.
const WORKER_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Token for the `/agent` worker connection.
pub fn worker_token(api_key: &str, api_secret: &str) -> Result<Secret, TokenError> {
    let grants = VideoGrants { agent: true, ..VideoGrants::default() };
    let jwt = AccessToken::with_api_key(api_key, api_secret)
        .with_ttl(WORKER_TOKEN_TTL)
        .with_grants(grants)
        .to_jwt()?;
    Ok(Secret::from(jwt))
}

/// Token that lets `identity` join `room` (publish, subscribe, data).
pub fn room_token(
    api_key: &str,
    api_secret: &str,
    room: &str,
    identity: &str,
    ttl: Duration,
) -> Result<String, TokenError> {
    let grants = VideoGrants { room_join: true, room: room.to_owned(), ..VideoGrants::default() };
    Ok(AccessToken::with_api_key(api_key, api_secret)
        .with_ttl(ttl)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(grants)
        .to_jwt()?)
}

/// Joins a server base URL (`ws://host:port`, maybe with a path prefix) and an endpoint path.
pub fn endpoint(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::access_token::TokenVerifier;

    #[test]
    fn worker_token_carries_the_agent_grant() {
        let jwt = worker_token("key", "a-long-enough-secret").unwrap();
        assert_eq!(format!("{jwt:?}"), "<redacted>");
        let claims = TokenVerifier::with_api_key("key", "a-long-enough-secret").verify(jwt.expose()).unwrap();
        assert!(claims.video.agent);
        assert!(!claims.video.room_join);
    }

    #[test]
    fn room_token_names_room_and_identity_and_rejects_empty_keys() {
        let jwt = room_token("key", "secret", "r1", "u1", Duration::from_secs(60)).unwrap();
        let claims = TokenVerifier::with_api_key("key", "secret").verify(&jwt).unwrap();
        assert_eq!((claims.video.room.as_str(), claims.sub.as_str()), ("r1", "u1"));
        assert!(claims.video.room_join);
        assert!(worker_token("", "secret").is_err());
        assert!(TokenVerifier::with_api_key("key", "other").verify(&jwt).is_err());
    }

    #[test]
    fn endpoints_join_without_double_slashes() {
        assert_eq!(endpoint("ws://h:1/", "/rtc"), "ws://h:1/rtc");
        assert_eq!(endpoint("wss://h/prefix", "agent"), "wss://h/prefix/agent");
    }
}
