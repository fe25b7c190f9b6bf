//! Loading: every way the runtime or the model can be wrong gives an error naming the
//! variable to fix, and the model loads once per process.
//!
//! One test, in order, because ONNX Runtime can be loaded only once per process.

#[path = "inprocess/vad_common.rs"]
mod vad_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use vad_common::*;
use voice_agent::vad::{LoadError, Vad};

fn load_err(ort: &Path, model: &Path) -> LoadError {
    Vad::load(ort, model).expect_err("load must fail")
}

/// An "ONNX Runtime 1.16.0": a tiny library exporting `OrtGetApiBase` that reports that
/// version (no real old release can be fetched at test time). Built with the C compiler
/// every Rust toolchain needs.
fn old_runtime(dir: &Path) -> PathBuf {
    let src = dir.join("old_ort.c");
    std::fs::write(
        &src,
        "typedef struct { const void *(*get_api)(unsigned); const char *(*version)(void); } Base;\n\
         static const void *get_api(unsigned v) { (void)v; return 0; }\n\
         static const char *version(void) { return \"1.16.0\"; }\n\
         static const Base base = { get_api, version };\n\
         const Base *OrtGetApiBase(void) { return &base; }\n",
    )
    .expect("write C source");
    let lib = dir.join("libonnxruntime.so.1.16.0");
    let status =
        Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().expect("cc runs");
    assert!(status.success(), "cc failed");
    lib
}

fn system_opus() -> PathBuf {
    let out = Command::new("pkg-config")
        .args(["--variable=libdir", "opus"])
        .output()
        .expect("pkg-config not runnable: run scripts/setup");
    let dir = String::from_utf8(out.stdout).expect("utf8");
    let lib = Path::new(dir.trim()).join("libopus.so");
    assert!(lib.exists(), "{} missing: run scripts/setup (libopus-dev)", lib.display());
    lib
}

#[test]
fn load_errors_name_the_setting_and_the_model_loads_once() {
    let dir = std::env::temp_dir().join(format!("va-vad-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let model = model_path();
    assert!(model.exists() && ort_path().exists(), "models/ is missing: run scripts/setup");
    assert!(!Vad::is_loaded());

    let missing = dir.join("nope/libonnxruntime.so");
    let e = load_err(&missing, &model);
    assert!(matches!(e, LoadError::RuntimeMissing { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "ORT_DYLIB_PATH={}: no such file (run scripts/setup, or point ORT_DYLIB_PATH at libonnxruntime.so 1.31.x)",
            missing.display()
        )
    );

    let text = dir.join("not-a-library.so");
    std::fs::write(&text, "hello").expect("write");
    let e = load_err(&text, &model);
    assert!(matches!(e, LoadError::RuntimeUnusable { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("ORT_DYLIB_PATH={}: not a usable ONNX Runtime library", text.display()))
    );

    let opus = system_opus();
    let e = load_err(&opus, &model);
    assert!(e.to_string().contains("does not export `OrtGetApiBase`"), "{e}");

    let old = old_runtime(&dir);
    let e = load_err(&old, &model);
    assert!(matches!(e, LoadError::RuntimeVersion { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!("ORT_DYLIB_PATH={}: wrong ONNX Runtime version", old.display())),
        "{e}"
    );
    assert!(e.to_string().contains("1.16.0"), "{e}");
    assert!(!Vad::is_loaded());

    let no_model = dir.join("silero_vad.onnx");
    let e = load_err(&ort_path(), &no_model);
    assert!(
        e.to_string()
            .starts_with(&format!("VAD_MODEL_PATH={}: cannot read the Silero model", no_model.display())),
        "{e}"
    );

    let bytes = std::fs::read(&model).expect("model");
    std::fs::write(&no_model, &bytes[..bytes.len() / 2]).expect("write");
    let e = load_err(&ort_path(), &no_model);
    assert!(matches!(e, LoadError::ModelChecksum { .. }), "{e:?}");
    assert!(e.to_string().contains("is not the Silero VAD model expected"), "{e}");
    assert!(!Vad::is_loaded());

    let vad = Vad::load(&ort_path(), &model).expect("the real runtime and model load");
    assert!(Vad::is_loaded());
    let again = Vad::load(&ort_path(), &model).expect("second load");
    let mut a = voice_agent::vad::StreamState::default();
    let mut b = a.clone();
    let p = vad.model().infer_one(&mut a).expect("infer");
    // Separate statements: each `model()` holds the one session lock until its end.
    let q = again.model().infer_one(&mut b).expect("infer");
    assert_eq!(p, q);

    std::fs::write(&no_model, &bytes).expect("copy model");
    let e = load_err(&old, &no_model);
    assert!(matches!(e, LoadError::RuntimeAlreadyLoaded { .. }), "{e:?}");
    assert!(e.to_string().starts_with("ORT_DYLIB_PATH="), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
