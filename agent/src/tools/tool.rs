//! What a tool is: the object-safe [`Tool`] trait the session runs, and [`FunctionTool`],
//! which makes one out of a typed async function — arguments a `Deserialize` +
//! `JsonSchema` struct (the schema the LLM sees is derived from it, doc comments included),
//! the result anything that is [`IntoToolOutput`].

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::context::ToolContext;

/// What a tool gives the LLM back.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutput {
    /// Plain text.
    Text(String),
    /// JSON (sent as its text).
    Json(Value),
}

impl ToolOutput {
    /// The text the LLM reads as the tool's result.
    pub fn content(&self) -> Cow<'_, str> {
        match self {
            ToolOutput::Text(t) => Cow::Borrowed(t),
            ToolOutput::Json(v) => Cow::Owned(v.to_string()),
        }
    }
}

/// A tool did not produce a result; the LLM is told why (the message is meant for it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments did not fit the tool's argument type.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The tool ran and failed.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// A failure with this message for the LLM ("no table is free at 19:30").
    pub fn failed(message: impl std::fmt::Display) -> Self {
        ToolError::Failed(message.to_string())
    }
}

/// What a tool function may return: text, JSON, a [`ToolOutput`], or a `Result` of one of
/// those with any displayable error (the error's text goes to the LLM).
pub trait IntoToolOutput {
    /// The output, or the failure the LLM is told about.
    fn into_tool_output(self) -> Result<ToolOutput, ToolError>;
}

impl IntoToolOutput for ToolOutput {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(self)
    }
}

impl IntoToolOutput for String {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::Text(self))
    }
}

impl IntoToolOutput for &'static str {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::Text(self.to_owned()))
    }
}

impl IntoToolOutput for Value {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::Json(self))
    }
}

impl<T: IntoToolOutput, E: std::fmt::Display> IntoToolOutput for Result<T, E> {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        match self {
            Ok(t) => t.into_tool_output(),
            Err(e) => Err(ToolError::failed(e)),
        }
    }
}

/// A function the LLM can call. Usually made with [`FunctionTool::new`]; implement it by
/// hand for tools whose schema is not a Rust type.
pub trait Tool: Send + Sync + 'static {
    /// The name the LLM calls it by (letters, digits, `_`, `-`; at most 64).
    fn name(&self) -> &str;
    /// What it does and when to use it (the LLM reads this).
    fn description(&self) -> &str;
    /// JSON schema of the arguments (an object schema).
    fn parameters(&self) -> &Value;
    /// Its own time limit, instead of the session's default.
    fn timeout(&self) -> Option<Duration> {
        None
    }
    /// Runs one call with the LLM's arguments.
    fn call(&self, ctx: ToolContext, arguments: Value) -> BoxFuture<'static, Result<ToolOutput, ToolError>>;
}

/// A [`Tool`] made from a typed async function.
///
/// ```
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use voice_agent::tools::{FunctionTool, Tool, ToolContext};
///
/// /// Arguments of `get_weather`.
/// #[derive(Deserialize, JsonSchema)]
/// struct Weather {
///     /// The city, e.g. "Oslo".
///     city: String,
/// }
///
/// let tool = FunctionTool::new("get_weather", "The current weather in a city.", |_ctx: ToolContext, w: Weather| async move {
///     format!("Sunny and 21 degrees in {}.", w.city)
/// });
/// assert_eq!(tool.name(), "get_weather");
/// assert_eq!(tool.parameters()["properties"]["city"]["description"], "The city, e.g. \"Oslo\".");
/// ```
pub struct FunctionTool<A, F> {
    name: String,
    description: String,
    parameters: Value,
    timeout: Option<Duration>,
    f: Arc<F>,
    _args: PhantomData<fn(A)>,
}

impl<A, F, Fut, R> FunctionTool<A, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(ToolContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoToolOutput + 'static,
{
    /// A tool named `name`, described by `description`, running `f`.
    pub fn new(name: impl Into<String>, description: impl Into<String>, f: F) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters: parameters_schema::<A>(),
            timeout: None,
            f: Arc::new(f),
            _args: PhantomData,
        }
    }

    /// Gives this tool its own time limit.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }
}

impl<A, F, Fut, R> Tool for FunctionTool<A, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(ToolContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoToolOutput + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> &Value {
        &self.parameters
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn call(&self, ctx: ToolContext, arguments: Value) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        let f = Arc::clone(&self.f);
        Box::pin(async move {
            let args: A =
                serde_json::from_value(arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
            f(ctx, args).await.into_tool_output()
        })
    }
}

/// The JSON schema of `A` as OpenAI-style `parameters`: subschemas inlined, no `$schema` or
/// `title`. It must be an object schema ([`ToolSet::validate`](super::ToolSet::validate)
/// checks): use a struct with named fields, or [`NoArguments`].
pub fn parameters_schema<A: JsonSchema>() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let mut schema = settings.into_generator().into_root_schema_for::<A>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("title");
        obj.remove("$schema");
    }
    schema
}

/// The arguments of a tool that takes none (`{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, JsonSchema)]
pub struct NoArguments {}
