//! The environment as settings come from it: the `.env` file under the process environment,
//! and typed reading that collects every mistake.
//!
//! A leaf: it imports nothing else of the crate. Subsystems own plain settings structs; their
//! `config.rs` reads them through [`EnvReader`], and [`crate::config`] puts the whole
//! configuration together. The sans-IO [`crate::core`] never reads the environment.

mod dotenv;
mod reader;

pub use dotenv::{DotenvError, load_dotenv};
pub use reader::{ConfigError, EnvReader, Number};
