//! The `.env` file under the process environment, read with `dotenvy`: `KEY=value` lines,
//! `#` comments, single and double quotes (values may span lines inside quotes), `export `
//! prefixes and `${VAR}` substitution.
//!
//! Variables already in the environment win over the file, as with docker-compose; the first
//! occurrence of a key in the file wins over later ones. A missing file is not an error.

use std::collections::HashMap;
use std::path::Path;

/// Why the `.env` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `KEY=value`, or a quote is never closed. The value is not echoed: it may
    /// be a secret.
    #[error("{path}: cannot parse the entry starting {start:?} (expected KEY=value, quotes closed)")]
    Syntax {
        /// The file.
        path: String,
        /// The first characters of the entry, up to its `=`.
        start: String,
    },
}

/// Merges `path` (if it exists) under `vars`: keys already present are kept.
///
/// `${VAR}` in a value is replaced by the process environment's `VAR`, else by an earlier
/// entry of the same file, else by nothing.
pub fn load_dotenv(path: &Path, vars: &mut HashMap<String, String>) -> Result<(), DotenvError> {
    let shown = || path.display().to_string();
    let entries = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Ok(()),
        Err(dotenvy::Error::Io(source)) => return Err(DotenvError::Io { path: shown(), source }),
        Err(e) => {
            return Err(DotenvError::Io { path: shown(), source: std::io::Error::other(e.to_string()) });
        }
    };
    for entry in entries {
        match entry {
            Ok((key, value)) => {
                vars.entry(key).or_insert(value);
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                let start = line.split('=').next().unwrap_or_default().chars().take(40).collect();
                return Err(DotenvError::Syntax { path: shown(), start });
            }
            Err(dotenvy::Error::Io(source)) => return Err(DotenvError::Io { path: shown(), source }),
            Err(e) => {
                return Err(DotenvError::Io { path: shown(), source: std::io::Error::other(e.to_string()) });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("va-dotenv-{name}-{}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn parses_and_environment_wins() {
        let p = file("ok", "# c\nA=1\nexport B=\"two words\"\nC=x # note\nD='q'\nA=again\n");
        let mut vars = HashMap::from([("A".to_string(), "env".to_string())]);
        load_dotenv(&p, &mut vars).unwrap();
        assert_eq!(vars["A"], "env");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x");
        assert_eq!(vars["D"], "q");
    }

    #[test]
    fn multi_line_values_and_substitution() {
        let p = file(
            "multi",
            "PROMPT=\"You are helpful.\nAnswer briefly.\"\nHOST=127.0.0.1\nURL=http://${HOST}:8000/v1\nLIT='${HOST}'\n",
        );
        let mut vars = HashMap::new();
        load_dotenv(&p, &mut vars).unwrap();
        assert_eq!(vars["PROMPT"], "You are helpful.\nAnswer briefly.");
        assert_eq!(vars["URL"], "http://127.0.0.1:8000/v1");
        assert_eq!(vars["LIT"], "${HOST}", "single quotes keep the text as written");
    }

    #[test]
    fn bad_line_is_reported_without_its_value() {
        let p = file("bad", "A=1\nLLM_API_KEY=\"sk-secret-never-closed\n");
        let err = load_dotenv(&p, &mut HashMap::new()).unwrap_err().to_string();
        assert!(err.contains("LLM_API_KEY"), "{err}");
        assert!(!err.contains("sk-secret"), "{err}");
        let p = file("bad2", "A=1\nnot a pair\n");
        assert!(load_dotenv(&p, &mut HashMap::new()).is_err());
    }

    #[test]
    fn missing_file_is_fine() {
        assert!(load_dotenv(Path::new("/nonexistent/.env"), &mut HashMap::new()).is_ok());
    }
}
