//! A minimal `.env` reader: `KEY=value` lines, `#` comments, optional quotes, `export ` prefix.
//!
//! Variables already in the process environment win over the file, as with docker-compose.

use std::collections::HashMap;
use std::path::Path;

/// A line of the `.env` file that could not be understood.
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
    /// A line is not `KEY=value`.
    #[error("{path}:{line}: expected KEY=value")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
    },
}

/// Merges `path` (if it exists) under `vars`: keys already present are kept.
pub fn load_dotenv(path: &Path, vars: &mut HashMap<String, String>) -> Result<(), DotenvError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(DotenvError::Io { path: path.display().to_string(), source }),
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(DotenvError::Syntax { path: path.display().to_string(), line: i + 1 });
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(DotenvError::Syntax { path: path.display().to_string(), line: i + 1 });
        }
        let value = unquote(value.trim());
        vars.entry(key.to_owned()).or_insert(value);
    }
    Ok(())
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_owned();
        }
    }
    // Unquoted values may carry a trailing comment.
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_owned(),
        None => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_environment_wins() {
        let p = std::env::temp_dir().join(format!("va-dotenv-{}", std::process::id()));
        std::fs::write(&p, "# c\nA=1\nexport B=\"two words\"\nC=x # note\nD='q'\n").unwrap();
        let mut vars = HashMap::from([("A".to_string(), "env".to_string())]);
        load_dotenv(&p, &mut vars).unwrap();
        assert_eq!(vars["A"], "env");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x");
        assert_eq!(vars["D"], "q");
    }

    #[test]
    fn bad_line_is_reported_with_its_number() {
        let p = std::env::temp_dir().join(format!("va-dotenv-bad-{}", std::process::id()));
        std::fs::write(&p, "A=1\nnot a pair\n").unwrap();
        let err = load_dotenv(&p, &mut HashMap::new()).unwrap_err();
        assert!(err.to_string().ends_with(":2: expected KEY=value"), "{err}");
    }

    #[test]
    fn missing_file_is_fine() {
        assert!(load_dotenv(Path::new("/nonexistent/.env"), &mut HashMap::new()).is_ok());
    }
}
