//! Loading ONNX Runtime (at run time, from the library `scripts/setup` provides) and the
//! Silero model, with errors that name the setting to fix.
//!
//! ONNX Runtime allows one environment per process and `ort` keeps the first library it
//! loaded, so the runtime is loaded once into a process-wide slot; asking for another
//! library later is an error rather than a silent mismatch.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use sha2::{Digest, Sha256};

/// sha256 of the `silero_vad.onnx` (silero-vad 6.2.3) this code was verified against.
pub const MODEL_SHA256: &str = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3";

/// Why the VAD could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The ONNX Runtime library file does not exist.
    #[error("ORT_DYLIB_PATH={}: no such file (run scripts/setup, or point ORT_DYLIB_PATH at libonnxruntime.so 1.31.x)", .path.display())]
    RuntimeMissing {
        /// The path tried.
        path: PathBuf,
    },
    /// The file exists but is not a loadable ONNX Runtime library.
    #[error("ORT_DYLIB_PATH={}: not a usable ONNX Runtime library: {detail}", .path.display())]
    RuntimeUnusable {
        /// The path tried.
        path: PathBuf,
        /// What the loader said.
        detail: String,
    },
    /// The library is an ONNX Runtime too old for `ort`.
    #[error("ORT_DYLIB_PATH={}: wrong ONNX Runtime version: {detail}", .path.display())]
    RuntimeVersion {
        /// The path tried.
        path: PathBuf,
        /// Found and expected versions.
        detail: String,
    },
    /// Another library was already loaded into this process.
    #[error("ORT_DYLIB_PATH={}: ONNX Runtime was already loaded from {} in this process", .path.display(), .loaded.display())]
    RuntimeAlreadyLoaded {
        /// The path asked for.
        path: PathBuf,
        /// The path in use.
        loaded: PathBuf,
    },
    /// The model file cannot be read.
    #[error("VAD_MODEL_PATH={}: cannot read the Silero model ({source}); run scripts/setup", .path.display())]
    ModelUnreadable {
        /// The path tried.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The model file is not the expected Silero model (corrupt, truncated, or another model).
    #[error("VAD_MODEL_PATH={}: sha256 {found} is not the Silero VAD model expected ({MODEL_SHA256}); run scripts/setup", .path.display())]
    ModelChecksum {
        /// The path tried.
        path: PathBuf,
        /// The file's sha256.
        found: String,
    },
    /// ONNX Runtime refused the environment, the session options or the model.
    #[error("ONNX Runtime could not {step}: {detail}")]
    Session {
        /// What was being done.
        step: &'static str,
        /// ONNX Runtime's message.
        detail: String,
    },
}

/// The process-wide runtime: the library path it came from and its environment.
static RUNTIME: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// Loads ONNX Runtime from `dylib` once per process and returns its environment.
pub fn runtime(dylib: &Path) -> Result<Environment, LoadError> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((loaded, env)) = slot.as_ref() {
        if same_file(loaded, dylib) {
            return Ok(env.clone());
        }
        return Err(LoadError::RuntimeAlreadyLoaded { path: dylib.to_owned(), loaded: loaded.clone() });
    }
    if !dylib.is_file() {
        return Err(LoadError::RuntimeMissing { path: dylib.to_owned() });
    }
    // `ort` resolves a relative path against the executable's directory first; make it
    // relative to the working directory, as every other path setting is.
    let absolute = std::path::absolute(dylib).unwrap_or_else(|_| dylib.to_owned());
    let builder = ort::init_from(&absolute).map_err(|e| classify(dylib, e))?;
    let env = builder
        .with_name("voice-agent")
        .with_telemetry(false)
        .build()
        .map_err(|e| LoadError::Session { step: "create its environment", detail: e.to_string() })?;
    *slot = Some((dylib.to_owned(), env.clone()));
    Ok(env)
}

/// Whether ONNX Runtime has been loaded in this process.
pub fn runtime_loaded() -> bool {
    RUNTIME.lock().map(|s| s.is_some()).unwrap_or(false)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn classify(path: &Path, e: ort::LoadDynamicError) -> LoadError {
    let detail = e.to_string();
    match e {
        ort::LoadDynamicError::BadVersion { .. } => {
            LoadError::RuntimeVersion { path: path.to_owned(), detail }
        }
        _ => LoadError::RuntimeUnusable { path: path.to_owned(), detail },
    }
}

/// Reads the model and checks it is the expected Silero model.
pub fn read_model(path: &Path) -> Result<Vec<u8>, LoadError> {
    let bytes =
        std::fs::read(path).map_err(|source| LoadError::ModelUnreadable { path: path.to_owned(), source })?;
    let found = sha256_hex(&bytes);
    if found != MODEL_SHA256 {
        return Err(LoadError::ModelChecksum { path: path.to_owned(), found });
    }
    Ok(bytes)
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A session as livekit-plugins-silero configures it: one intra-op and one inter-op thread,
/// no spinning (an idle worker must not burn a core), sequential execution, full graph
/// optimisation.
pub fn session(env: &Environment, model: &[u8]) -> Result<Session, LoadError> {
    build_session(env, model, 1, Arena::Keep, "load the Silero model")
}

/// What a session does with memory its runs freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arena {
    /// ONNX Runtime's CPU arena and memory patterns (its defaults): buffers are kept for the
    /// next run. Right for a model whose inputs keep one size (Silero's windows).
    Keep,
    /// Neither: each run allocates what it needs and frees it after. Right for a model whose
    /// batches vary (Smart Turn: ~25 MB of activations per item), where the arena would keep
    /// the largest batch ever seen for the life of the process.
    Release,
}

/// A session with `intra_threads` intra-op threads, `arena`, and otherwise [`session`]'s
/// options; `what` names the model in errors ("load the … model").
pub fn build_session(
    env: &Environment,
    model: &[u8],
    intra_threads: usize,
    arena: Arena,
    what: &'static str,
) -> Result<Session, LoadError> {
    let fail = |step| {
        move |e: ort::Error<ort::session::builder::SessionBuilder>| LoadError::Session {
            step,
            detail: e.to_string(),
        }
    };
    let mut builder = Session::builder(env)
        .map_err(|e| LoadError::Session { step: "create a session builder", detail: e.to_string() })?
        .with_intra_threads(intra_threads.max(1))
        .map_err(fail("set the intra-op threads"))?
        .with_inter_threads(1)
        .map_err(fail("use one inter-op thread"))?
        .with_parallel_execution(false)
        .map_err(fail("run sequentially"))?
        .with_intra_op_spinning(false)
        .map_err(fail("disable intra-op spinning"))?
        .with_inter_op_spinning(false)
        .map_err(fail("disable inter-op spinning"))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(fail("enable graph optimisation"))?;
    if arena == Arena::Release {
        builder = builder
            .with_memory_pattern(false)
            .map_err(fail("disable memory patterns"))?
            .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
            .map_err(fail("disable the CPU arena"))?;
    }
    builder.commit_from_memory(model).map_err(|e| LoadError::Session { step: what, detail: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_models_name_the_variable() {
        let err = read_model(Path::new("/nonexistent/silero_vad.onnx")).unwrap_err();
        assert!(
            err.to_string().starts_with("VAD_MODEL_PATH=/nonexistent/silero_vad.onnx: cannot read"),
            "{err}"
        );
        let p = std::env::temp_dir().join(format!("va-not-silero-{}.onnx", std::process::id()));
        std::fs::write(&p, b"not a model").unwrap();
        let err = read_model(&p).unwrap_err();
        assert!(matches!(err, LoadError::ModelChecksum { .. }));
        assert!(err.to_string().contains("is not the Silero VAD model expected"), "{err}");
        std::fs::remove_file(&p).ok();
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
