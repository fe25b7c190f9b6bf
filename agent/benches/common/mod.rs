//! What the model benchmarks share: paths, fixtures, CPU-time accounting and the Python
//! reference runner.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}

/// The path in environment variable `var`, or `default` below the workspace root (where
/// `scripts/setup` puts it).
pub fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| root().join(default))
}

/// A committed fixture (tests/fixtures/NAME) as 16-bit samples.
pub fn fixture(name: &str) -> Vec<i16> {
    let path = root().join("tests/fixtures").join(name);
    let mut r = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.samples::<i16>().map(|s| s.expect("sample")).collect()
}

/// CPU time (ns) this thread has run, or all threads of the process: the kernel's
/// per-thread run-time accounting, so time spent waiting for a core (other work on this
/// shared machine) is not counted.
pub fn cpu_ns(all_threads: bool) -> u64 {
    let read = |p: &Path| -> u64 {
        std::fs::read_to_string(p).ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0)
    };
    if !all_threads {
        return read(Path::new("/proc/thread-self/schedstat"));
    }
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.flatten().map(|t| read(&t.path().join("schedstat"))).sum())
        .unwrap_or(0)
}

/// Runs `tests/bench/SCRIPT ARGS…` with the project venv's Python and returns its one JSON
/// line, or `None` (said on stderr) when it cannot run.
pub fn python_json<A: AsRef<OsStr>>(script: &str, args: &[A]) -> Option<serde_json::Value> {
    let py = root().join(".tools/venv/bin/python");
    let out = Command::new(&py).arg(root().join("tests/bench").join(script)).args(args).output();
    match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).ok(),
        Ok(o) => {
            eprintln!("python path failed: {}", String::from_utf8_lossy(&o.stderr));
            None
        }
        Err(e) => {
            eprintln!("{} not runnable ({e}): run scripts/setup", py.display());
            None
        }
    }
}
