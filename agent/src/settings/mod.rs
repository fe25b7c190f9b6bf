//! The pieces of a pipeline's settings that every layer shares, below the providers, limits,
//! VAD and Smart Turn that use them: number ranges ([`bounds`]), the mistakes a setting can
//! have ([`error`]) and the limits chosen in code ([`limits`](mod@limits)). The builder that
//! puts them together is [`crate::pipeline`], which re-exports them.

pub mod bounds;
pub mod error;
pub mod limits;
