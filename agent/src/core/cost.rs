//! Prices and cost: a per-model price table, cost in integer micro-USD.
//!
//! Prices are configured in the units providers publish (USD per million tokens or
//! characters, USD per audio minute) and kept as integer pico-USD per unit, so a cost is exact
//! integer arithmetic and rounds up only once, to micro-USD. A model missing from the table is
//! priced by the `"*"` entry — pessimistic by default — so an unknown model can never make a
//! cost cap toothless.

use std::collections::HashMap;

use serde::Deserialize;

use super::quota::Usage;

/// One model's prices, as configured (USD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// USD per million prompt tokens.
    #[serde(default)]
    pub input_per_mtok: f64,
    /// USD per million completion tokens.
    #[serde(default)]
    pub output_per_mtok: f64,
    /// USD per million TTS characters.
    #[serde(default)]
    pub per_mchar: f64,
    /// USD per minute of STT audio.
    #[serde(default)]
    pub per_minute: f64,
}

/// One model's prices in pico-USD per unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    input_token: u64,
    output_token: u64,
    tts_char: u64,
    stt_milli: u64,
}

impl Price {
    /// From USD figures; `None` if any is negative or not finite.
    pub fn from_spec(s: &PriceSpec) -> Option<Self> {
        let pico = |usd: f64, per_units: f64| {
            (usd.is_finite() && usd >= 0.0)
                .then(|| (usd * 1e12 / per_units).round().min(u64::MAX as f64) as u64)
        };
        Some(Self {
            input_token: pico(s.input_per_mtok, 1e6)?,
            output_token: pico(s.output_per_mtok, 1e6)?,
            tts_char: pico(s.per_mchar, 1e6)?,
            stt_milli: pico(s.per_minute, 60_000.0)?,
        })
    }
}

/// Prices per model name, with a `"*"` fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    models: HashMap<String, Price>,
    fallback: Price,
}

/// The built-in table (public list prices at the time of writing; override with `PRICES`).
const DEFAULT_PRICES: &str = r#"{
  "gpt-4o-mini": {"input_per_mtok": 0.15, "output_per_mtok": 0.6},
  "gpt-4o": {"input_per_mtok": 2.5, "output_per_mtok": 10},
  "gpt-4.1-mini": {"input_per_mtok": 0.4, "output_per_mtok": 1.6},
  "gpt-4.1-nano": {"input_per_mtok": 0.1, "output_per_mtok": 0.4},
  "tts-1": {"per_mchar": 15},
  "tts-1-hd": {"per_mchar": 30},
  "gpt-4o-mini-tts": {"per_mchar": 15},
  "whisper-1": {"per_minute": 0.006},
  "gpt-4o-transcribe": {"per_minute": 0.006},
  "gpt-4o-mini-transcribe": {"per_minute": 0.003},
  "*": {"input_per_mtok": 2.5, "output_per_mtok": 10, "per_mchar": 30, "per_minute": 0.006}
}"#;

/// A `PRICES` value that is not a valid table.
#[derive(Debug, thiserror::Error)]
pub enum PriceTableError {
    /// Not JSON of the expected shape.
    #[error("not a JSON object of model → prices: {0}")]
    Json(#[from] serde_json::Error),
    /// A price is negative or not finite.
    #[error("price of {0:?} is negative or not a number")]
    BadPrice(String),
}

impl Default for PriceTable {
    fn default() -> Self {
        let mut t = Self { models: HashMap::new(), fallback: Price::default() };
        // The built-in table is a constant that the tests parse; failing here is impossible.
        let _ = t.merge_json(DEFAULT_PRICES);
        t
    }
}

impl PriceTable {
    /// Adds or replaces models from JSON such as
    /// `{"my-model": {"input_per_mtok": 1, "output_per_mtok": 2}, "*": {...}}`.
    pub fn merge_json(&mut self, json: &str) -> Result<(), PriceTableError> {
        let specs: HashMap<String, PriceSpec> = serde_json::from_str(json)?;
        let mut parsed = Vec::with_capacity(specs.len());
        for (name, spec) in specs {
            let price = Price::from_spec(&spec).ok_or_else(|| PriceTableError::BadPrice(name.clone()))?;
            parsed.push((name, price));
        }
        for (name, price) in parsed {
            if name == "*" {
                self.fallback = price;
            } else {
                self.models.insert(name, price);
            }
        }
        Ok(())
    }

    /// Whether `model` has its own entry (otherwise the `"*"` fallback prices it).
    pub fn knows(&self, model: &str) -> bool {
        self.models.contains_key(model)
    }

    /// The cost of `usage` on `model`, in micro-USD, rounded up.
    pub fn cost(&self, model: &str, usage: &Usage) -> u64 {
        let p = self.models.get(model).unwrap_or(&self.fallback);
        let pico = u128::from(usage.input_tokens) * u128::from(p.input_token)
            + u128::from(usage.output_tokens) * u128::from(p.output_token)
            + u128::from(usage.tts_chars) * u128::from(p.tts_char)
            + u128::from(usage.stt_millis) * u128::from(p.stt_milli);
        pico.div_ceil(1_000_000).min(u128::from(u64::MAX)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(i: u64, o: u64) -> Usage {
        Usage { input_tokens: i, output_tokens: o, ..Usage::default() }
    }

    #[test]
    fn default_table_prices_the_common_models() {
        let t = PriceTable::default();
        // 1M in + 1M out on gpt-4o-mini = $0.75.
        assert_eq!(t.cost("gpt-4o-mini", &tokens(1_000_000, 1_000_000)), 750_000);
        // 1000 characters of tts-1 = $0.015.
        assert_eq!(t.cost("tts-1", &Usage { tts_chars: 1000, ..Usage::default() }), 15_000);
        // One minute of whisper = $0.006.
        assert_eq!(t.cost("whisper-1", &Usage { stt_millis: 60_000, ..Usage::default() }), 6000);
        // Rounds up: one token is a fraction of a micro-dollar.
        assert_eq!(t.cost("gpt-4o-mini", &tokens(1, 0)), 1);
        assert_eq!(t.cost("gpt-4o-mini", &Usage::default()), 0);
        assert!(t.knows("gpt-4o") && !t.knows("mystery"));
        // Unknown models fall back to the pessimistic "*" prices.
        assert_eq!(t.cost("mystery", &tokens(0, 1_000_000)), 10_000_000);
    }

    #[test]
    fn merge_overrides_and_rejects_bad_prices() {
        let mut t = PriceTable::default();
        t.merge_json(r#"{"gpt-4o-mini": {"input_per_mtok": 1}, "*": {}}"#).unwrap();
        assert_eq!(t.cost("gpt-4o-mini", &tokens(1_000_000, 1_000_000)), 1_000_000);
        assert_eq!(t.cost("mystery", &tokens(5, 5)), 0);
        assert!(matches!(t.merge_json(r#"{"x": {"per_mchar": -1}}"#), Err(PriceTableError::BadPrice(_))));
        assert!(matches!(t.merge_json(r#"{"x": {"per_token": 1}}"#), Err(PriceTableError::Json(_))));
        assert!(t.merge_json("[1,2]").is_err());
        // A failed merge changes nothing.
        assert!(!t.knows("x"));
    }

    #[test]
    fn huge_usage_saturates_instead_of_overflowing() {
        let t = PriceTable::default();
        let u = Usage {
            input_tokens: u64::MAX,
            output_tokens: u64::MAX,
            tts_chars: u64::MAX,
            ..Usage::default()
        };
        assert!(t.cost("mystery", &u) > 0);
    }
}
