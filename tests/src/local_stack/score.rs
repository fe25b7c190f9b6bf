//! Scoring spoken answers and transcripts: words normalised so that "fifty-six", "56" and
//! "Fifty six." compare equal, an answer counted right when it holds one of the expected words,
//! and the word error rate of a transcript against the text that was spoken.

/// Lower-case words without punctuation, possessive `'s` dropped, British spellings folded
/// into the American ones Whisper writes, and runs of number words turned into digits
/// ("one hundred and one" → "101", "fifty-six" → "56").
pub fn normalise(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['-', '–'], " ");
    let mut out = Vec::new();
    let mut number: Option<u64> = None;
    let mut pending_and = false;
    for raw in lower.split(|c: char| !c.is_alphanumeric() && c != '\'') {
        let word = raw.trim_matches('\'');
        let word = word.strip_suffix("'s").unwrap_or(word);
        if word.is_empty() {
            continue;
        }
        let word = match word {
            "colour" => "color",
            "colours" => "colors",
            "centre" => "center",
            "metres" => "meters",
            w => w,
        };
        if number.is_none() && matches!(word, "hundred" | "thousand") {
            // "a hundred", "hundred and one"
            number = Some(if word == "hundred" { 100 } else { 1000 });
            continue;
        }
        if let Some(n) = number_word(word) {
            match number {
                // "twenty two", "hundred (and) five", "hundred twenty"
                Some(cur)
                    if (n < 10 && cur % 10 == 0 && cur % 100 >= 20) || (cur >= 100 && cur % 100 == 0) =>
                {
                    number = Some(cur + n);
                }
                Some(cur) => {
                    out.push(cur.to_string());
                    if pending_and {
                        out.push("and".to_owned());
                    }
                    number = Some(n);
                }
                None => number = Some(n),
            }
            pending_and = false;
            continue;
        }
        if let Some(n) = number {
            match word {
                "hundred" => {
                    number = Some(n.max(1) * 100);
                    continue;
                }
                "thousand" => {
                    number = Some(n.max(1) * 1000);
                    continue;
                }
                "and" if !pending_and && n >= 100 && n % 100 == 0 => {
                    pending_and = true;
                    continue;
                }
                _ => {}
            }
            out.push(n.to_string());
            if pending_and {
                out.push("and".to_owned());
            }
            number = None;
            pending_and = false;
        }
        out.push(word.to_owned());
    }
    if let Some(n) = number {
        out.push(n.to_string());
        if pending_and {
            out.push("and".to_owned());
        }
    }
    out
}

fn number_word(w: &str) -> Option<u64> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    if let Some(i) = UNITS.iter().position(|u| *u == w) {
        return Some(i as u64);
    }
    if let Some(i) = TENS.iter().position(|t| *t == w) {
        return Some(20 + 10 * i as u64);
    }
    w.parse().ok().filter(|_| w.chars().all(|c| c.is_ascii_digit()))
}

/// True when `answer` holds one of `expected` (each a word or a few words, normalised the
/// same way, matched as consecutive words).
pub fn answers(answer: &str, expected: &[&str]) -> bool {
    let words = normalise(answer);
    expected.iter().any(|e| {
        let want = normalise(e);
        !want.is_empty() && words.windows(want.len()).any(|w| w == want.as_slice())
    })
}

/// Word errors (substitutions + insertions + deletions, by edit distance) of `hypothesis`
/// against `reference`, and the reference's length in words: the parts of a word error rate.
pub fn word_errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let (r, h) = (normalise(reference), normalise(hypothesis));
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut row = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            row[j + 1] = sub.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    (prev[h.len()], r.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_words_and_digits_compare_equal() {
        assert_eq!(normalise("Seven times eight is fifty-six."), ["7", "times", "8", "is", "56"]);
        assert_eq!(normalise("One hundred and one"), ["101"]);
        assert_eq!(normalise("A hundred minus one is 99"), ["a", "100", "minus", "1", "is", "99"]);
        assert_eq!(normalise("three hundred sixty-six days"), ["366", "days"]);
        assert_eq!(normalise("two and three"), ["2", "and", "3"]);
        assert_eq!(normalise("Shakespeare's play, in colour"), ["shakespeare", "play", "in", "color"]);
    }

    #[test]
    fn an_answer_counts_when_it_holds_an_expected_word() {
        assert!(answers("The capital of France is Paris.", &["paris"]));
        assert!(answers("Seven times eight equals fifty six.", &["56"]));
        assert!(answers("It is the Pacific Ocean", &["pacific ocean"]));
        assert!(!answers("A banana is red.", &["yellow"]));
        assert!(!answers("Paris", &[]));
        assert!(!answers("There are 14 months in a year", &["12"]));
    }

    #[test]
    fn word_errors_count_edits() {
        assert_eq!(word_errors("How many days are in a week?", "how many days are in a week"), (0, 7));
        assert_eq!(word_errors("How many days are in a week?", "I'm gonna be in the lead"), (6, 7));
        assert_eq!(word_errors("What is seven times eight?", "What is 7 times 8"), (0, 5));
        assert_eq!(word_errors("a b c", ""), (3, 3));
        assert_eq!(word_errors("", "a"), (1, 0));
    }
}
