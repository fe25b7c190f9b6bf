//! Configuration, the edge: environment variables (and an optional `.env` file) → [`Config`].
//!
//! Everything is parsed before anything binds or connects; every mistake is reported at once
//! with the variable's name and what was expected, and `main` exits with code 64 (EX_USAGE).
//! Each subsystem owns a plain settings struct and reads it in its `config.rs` through
//! [`EnvReader`]; this module puts them together and holds the process-wide settings. Nothing
//! but the application imports it.

mod env_chain;
mod pipeline_env;
#[cfg(test)]
mod pipeline_env_tests;

use crate::env::{ConfigError, EnvReader};
use crate::logging::LogFormat;
use crate::pipeline::Pipeline;
use crate::secret::Secret;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which job the agent does in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMode {
    /// Listen, think, answer with speech.
    Voice,
    /// Play each participant's audio back after a fixed delay (media-path diagnostics).
    Echo,
}

/// LiveKit connection settings.
#[derive(Debug, Clone)]
pub struct LiveKitConfig {
    /// Server URL, `ws://` or `wss://` (`http(s)://` is accepted and converted).
    pub url: String,
    /// API key (an identifier: it is in every token's `iss` claim).
    pub api_key: String,
    /// API secret (never logged).
    pub api_secret: Secret,
    /// Agent name; empty means automatic dispatch to every new room.
    pub agent_name: String,
}

/// Worker capacity and lifecycle settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Hard cap on concurrently running jobs.
    pub max_jobs: u32,
    /// Refuse new jobs once the worker's load reaches this (0..1).
    pub load_threshold: f64,
    /// How long a drain waits for running sessions before exiting anyway.
    pub drain_timeout: Duration,
    /// What the agent does in rooms.
    pub mode: AgentMode,
    /// Delay before echoing audio back in echo mode.
    pub echo_delay: Duration,
}

/// Health server settings.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Address of the liveness/readiness/metrics server.
    pub addr: SocketAddr,
    /// Liveness fails when the async runtime's heartbeat is older than this.
    pub liveness_stale: Duration,
    /// Whether `/stats` is served (`STATS_ENABLED`).
    pub stats_enabled: bool,
    /// Bearer token `/stats` requires (`STATS_TOKEN`); `None`: open.
    pub stats_token: Option<Secret>,
}

impl HealthConfig {
    /// Who may read `/stats`.
    pub fn stats_access(&self) -> health::access::StatsAccess {
        use health::access::StatsAccess;
        match (&self.stats_token, self.stats_enabled) {
            (_, false) => StatsAccess::Off,
            (Some(t), true) => StatsAccess::Token(t.expose().to_owned()),
            (None, true) => StatsAccess::Open,
        }
    }
}

/// Where the ONNX Runtime library and the VAD model are.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Path of `libonnxruntime.so` (1.31.x).
    pub ort_dylib: PathBuf,
    /// Path of `silero_vad.onnx`.
    pub vad_model: PathBuf,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// LiveKit server and credentials.
    pub livekit: LiveKitConfig,
    /// Worker capacity and lifecycle.
    pub worker: WorkerConfig,
    /// Health server.
    pub health: HealthConfig,
    /// Model files.
    pub models: ModelConfig,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log_level: String,
    /// STT, LLM and TTS endpoints with fallbacks, options, breakers and retries; the VAD;
    /// turn detection; limits and cost caps — from the environment, or chosen in code
    /// ([`Config::with_pipeline`]).
    pub pipeline: Pipeline,
    /// Voice session: prompt, greeting, turn-taking, history, notices.
    pub session: crate::session::SessionConfig,
}

impl Config {
    /// Parses every setting; returns all errors at once.
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, Vec<ConfigError>> {
        let mut env = EnvReader::new(vars);
        let config = Self::read(&mut env);
        env.finish().map(|()| config)
    }

    /// Every variable read as a floating-point number (durations in seconds included),
    /// including those of optional groups (`REDIS_*`, `TTS_SPEED`): each must refuse `NaN` and
    /// infinities, which is what the binary's tests try.
    pub fn float_variables() -> Vec<String> {
        let optional =
            [("REDIS_URL", "redis://127.0.0.1:6379"), ("TTS_SPEED", "1"), ("VAD_MIN_SILENCE_SECS", "0.45")];
        let mut env = EnvReader::from_pairs(&optional);
        Self::read(&mut env);
        env.float_names().to_vec()
    }

    fn read(env: &mut EnvReader) -> Self {
        let livekit = read_livekit(env);
        let worker = WorkerConfig {
            max_jobs: env.ranged("MAX_JOBS", 100, 1, 10_000),
            load_threshold: env.ranged("LOAD_THRESHOLD", 0.7, 0.01, 1.0),
            drain_timeout: env.seconds("DRAIN_TIMEOUT_SECS", Duration::from_secs(300), 0.0, 86_400.0),
            mode: read_mode(env),
            echo_delay: env.seconds("ECHO_DELAY_SECS", Duration::from_millis(500), 0.0, 10.0),
        };
        let addr_text = env.string("HEALTH_ADDR", "0.0.0.0:8080");
        let addr = addr_text.parse().unwrap_or_else(|_| {
            env.error("HEALTH_ADDR", "an address like 0.0.0.0:8080");
            SocketAddr::from(([0, 0, 0, 0], 8080))
        });
        let health = HealthConfig {
            addr,
            liveness_stale: env.seconds("LIVENESS_STALE_SECS", Duration::from_secs(10), 0.5, 3600.0),
            stats_enabled: env.flag("STATS_ENABLED", true),
            stats_token: env.secret("STATS_TOKEN"),
        };
        let models = ModelConfig {
            ort_dylib: env.string("ORT_DYLIB_PATH", "models/libonnxruntime.so.1.31.1").into(),
            vad_model: env.string("VAD_MODEL_PATH", "models/silero_vad.onnx").into(),
        };
        let log_format = env.choice(
            "LOG_FORMAT",
            LogFormat::Text,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        );
        let log_level = env.string("LOG_LEVEL", "info");
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            env.error("LOG_LEVEL", "a log filter such as info, debug or voice_agent=debug,info");
        }
        let pipeline = pipeline_env::read(env);
        let session = crate::session::SessionConfig::from_env(env);
        Self { livekit, worker, health, models, log_format, log_level, pipeline, session }
    }

    /// The same configuration with the pipeline chosen in code (from
    /// [`Pipeline::builder`], or from `config.pipeline.to_builder()` to override some of
    /// the environment's choices).
    ///
    /// ```
    /// use voice_agent::config::Config;
    /// use voice_agent::pipeline::{OpenAiCompatible, TurnDetection};
    /// # let vars = [("LIVEKIT_API_KEY", "devkey"), ("LIVEKIT_API_SECRET", "secret")];
    /// # let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    /// let config = Config::from_vars(vars).expect("environment");
    /// let pipeline = config.pipeline.to_builder()
    ///     .llm(OpenAiCompatible::new("http://127.0.0.1:8080/v1").model("qwen2.5"))
    ///     .turn_detection(TurnDetection::Vad)
    ///     .build()
    ///     .expect("valid choices");
    /// let config = config.with_pipeline(pipeline);
    /// assert_eq!(config.pipeline.providers().llm.endpoints[0].model, "qwen2.5");
    /// ```
    pub fn with_pipeline(self, pipeline: Pipeline) -> Self {
        Self { pipeline, ..self }
    }

    /// The voice session's settings, with the pipeline's turn detection.
    pub fn session_config(&self) -> crate::session::SessionConfig {
        let mut session = self.session.clone();
        session.turn.smart = self.pipeline.smart_endpointing();
        session
    }

    /// Every credential in the configuration, for the log redactor: the LiveKit secret, the
    /// `/stats` token, provider API keys, the Redis URL and its password.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.livekit.api_secret.expose().to_owned()];
        out.extend(self.health.stats_token.as_ref().map(|t| t.expose().to_owned()));
        out.extend(self.pipeline.providers().api_keys().map(|k| k.expose().to_owned()));
        if let Some(redis) = &self.pipeline.limits().redis {
            let url = redis.url.expose();
            out.push(url.to_owned());
            out.extend(url_password(url).map(str::to_owned));
        }
        out
    }
}

/// The password in `scheme://user:password@host…`, if any.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p).filter(|p| !p.is_empty())
}

fn read_mode(env: &mut EnvReader) -> AgentMode {
    env.choice("AGENT_MODE", AgentMode::Voice, &[("voice", AgentMode::Voice), ("echo", AgentMode::Echo)])
}

fn read_livekit(env: &mut EnvReader) -> LiveKitConfig {
    let mut url = env.string("LIVEKIT_URL", "ws://127.0.0.1:7880");
    if let Some(rest) = url.strip_prefix("http://") {
        url = format!("ws://{rest}");
    } else if let Some(rest) = url.strip_prefix("https://") {
        url = format!("wss://{rest}");
    }
    if !(url.starts_with("ws://") || url.starts_with("wss://")) || url.len() <= "wss://".len() {
        env.error("LIVEKIT_URL", "a URL like ws://127.0.0.1:7880 or wss://my.livekit.cloud");
    }
    let api_key = env.secret("LIVEKIT_API_KEY");
    let api_secret = env.secret("LIVEKIT_API_SECRET");
    if api_key.is_none() {
        env.error("LIVEKIT_API_KEY", "the LiveKit API key (or LIVEKIT_API_KEY_FILE)");
    }
    if api_secret.is_none() {
        env.error("LIVEKIT_API_SECRET", "the LiveKit API secret (or LIVEKIT_API_SECRET_FILE)");
    }
    LiveKitConfig {
        url: url.trim_end_matches('/').to_owned(),
        api_key: api_key.map(|k| k.expose().to_owned()).unwrap_or_default(),
        api_secret: api_secret.unwrap_or_default(),
        agent_name: env.string("LIVEKIT_AGENT_NAME", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::load_dotenv;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> =
            [("LIVEKIT_API_KEY", "devkey"), ("LIVEKIT_API_SECRET", "secret")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        m.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        m
    }

    #[test]
    fn defaults_are_sane() {
        let c = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(c.health.addr.port(), 8080);
        assert_eq!(c.worker.load_threshold, 0.7);
        assert_eq!(c.worker.mode, AgentMode::Voice);
        assert_eq!(c.livekit.url, "ws://127.0.0.1:7880");
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn each_bad_value_is_named() {
        for (var, val) in [
            ("MAX_JOBS", "0"),
            ("MAX_JOBS", "lots"),
            ("LOAD_THRESHOLD", "1.5"),
            ("DRAIN_TIMEOUT_SECS", "-1"),
            ("HEALTH_ADDR", "localhost"),
            ("LIVENESS_STALE_SECS", "0"),
            ("LOG_FORMAT", "xml"),
            ("LOG_LEVEL", "[[["),
            ("AGENT_MODE", "karaoke"),
            ("LIVEKIT_URL", "ftp://x"),
        ] {
            let errs = Config::from_vars(vars(&[(var, val)])).unwrap_err();
            assert_eq!(errs.len(), 1, "{var}={val}: {errs:?}");
            assert_eq!(errs[0].var, var);
        }
    }

    #[test]
    fn env_example_is_valid_configuration() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.env.example");
        let mut v = HashMap::new();
        load_dotenv(&path, &mut v).unwrap();
        assert!(v.len() > 40, "the example documents every variable");
        Config::from_vars(v).unwrap();
    }

    #[test]
    fn every_float_setting_refuses_nan() {
        let floats = Config::float_variables();
        assert!(floats.len() >= 35, "{floats:?}");
        for var in
            ["COST_CAP_USER_USD_PER_DAY", "LOAD_THRESHOLD", "BREAKER_FAILURE_RATE", "REDIS_BREAKER_OPEN_SECS"]
        {
            assert!(floats.iter().any(|f| f == var), "{var} missing from {floats:?}");
        }
        let mut all_nan: Vec<(&str, &str)> = floats.iter().map(|f| (f.as_str(), "NaN")).collect();
        all_nan.push(("REDIS_URL", "redis://127.0.0.1:9"));
        let all_nan = vars(&all_nan);
        let errs = Config::from_vars(all_nan).unwrap_err();
        let named: Vec<&str> = errs.iter().map(|e| e.var.as_str()).collect();
        for f in &floats {
            assert!(named.contains(&f.as_str()), "{f}=NaN was accepted");
        }
    }

    #[test]
    fn all_errors_at_once() {
        let mut v = vars(&[("MAX_JOBS", "x"), ("LOG_FORMAT", "xml"), ("HEALTH_ADDR", "nope")]);
        v.remove("LIVEKIT_API_SECRET");
        let errs = Config::from_vars(v).unwrap_err();
        let mut names: Vec<_> = errs.iter().map(|e| e.var.clone()).collect();
        names.sort();
        assert_eq!(names, ["HEALTH_ADDR", "LIVEKIT_API_SECRET", "LOG_FORMAT", "MAX_JOBS"]);
    }

    #[test]
    fn http_urls_become_websocket_urls_and_secret_is_redacted() {
        let c = Config::from_vars(vars(&[("LIVEKIT_URL", "https://lk.example/")])).unwrap();
        assert_eq!(c.livekit.url, "wss://lk.example");
        assert!(!format!("{:?}", c.livekit).contains("secret\""));
        assert!(format!("{:?}", c.livekit).contains("<redacted>"));
    }

    #[test]
    fn secrets_are_listed_for_the_redactor_and_never_echoed_in_errors() {
        let v = vars(&[
            ("REDIS_URL", "rediss://:CANARY-redis-pw@redis.example:6380/0"),
            ("LLM_BASE_URL", "http://127.0.0.1:9/v1"),
            ("LLM_API_KEY", "sk-canary-llm"),
            ("MAX_JOBS", "x"),
        ]);
        // rediss:// is refused (redis:// only), and the error does not quote the URL.
        let errs = Config::from_vars(v.clone()).unwrap_err();
        let text: String = errs.iter().map(|e| format!("{e}\n")).collect();
        assert!(text.contains("REDIS_URL") && !text.contains("CANARY"), "{text}");
        let mut ok = v;
        ok.insert("REDIS_URL".into(), "redis://:CANARY-redis-pw@127.0.0.1:6380/0".into());
        ok.remove("MAX_JOBS");
        let c = Config::from_vars(ok).unwrap();
        let secrets = c.secrets();
        for s in ["secret", "sk-canary-llm", "CANARY-redis-pw", "redis://:CANARY-redis-pw@127.0.0.1:6380/0"] {
            assert!(secrets.iter().any(|x| x == s), "{s} missing from the redactor's list");
        }
        assert!(!format!("{c:?}").contains("CANARY") && !format!("{c:?}").contains("sk-canary"));
    }

    #[test]
    fn passwords_in_urls() {
        assert_eq!(url_password("redis://:pw@h:1/0"), Some("pw"));
        assert_eq!(url_password("rediss://user:p%40ss@h"), Some("p%40ss"));
        assert_eq!(url_password("redis://h:6379"), None);
        assert_eq!(url_password("redis://user@h"), None);
    }
}
