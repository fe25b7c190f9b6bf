//! With the real words (`--whisper`): what the question rule is exposed to and what it
//! changes — the paused sentences whose words at the pause end with `?`, the whole sentences
//! it answers sooner, and each cut-off with the words heard and what the agent would answer.

use std::time::Duration;

use voice_agent::core::endpoint::{SmartEndpointing, Wording};

use super::sim::{Run, Segment, Utterance};
use super::{cut_off, ms};

/// Each cut-off of a mode with the words at each pause and what the agent would have answered.
pub fn list_cut_offs(corpus: &[Utterance], runs: &[Run]) {
    for (u, r) in corpus.iter().zip(runs).filter(|(u, r)| cut_off(u, r)) {
        let at = r.answered.unwrap_or_default();
        let heard: Vec<String> = r
            .segments
            .iter()
            .filter(|s| s.end <= at)
            .map(|s| match s.p {
                Some(p) => format!("{:?} (p {p:.2})", s.text),
                None => format!("{:?}", s.text),
            })
            .collect();
        let kind = match u.pause {
            Some((start, resume)) => format!("paused {:.1} s", ms(resume - start) / 1000.0),
            None => "whole".to_owned(),
        };
        println!(
            "  cut off ({kind}, {:.0} ms before its end): {:?} | heard: {} | answered: {:?}",
            ms(u.speech_end - at),
            u.text,
            heard.join(" + "),
            r.said.join(" ")
        );
    }
}

/// What the question rule is exposed to, from a smart mode's runs (its utterances).
pub fn exposure(corpus: &[Utterance], runs: &[Run], question_delay: Duration) {
    let question = |t: &str| Wording::of(t) == Wording::Question;
    let (mut paused, mut asked) = (0, Vec::new());
    let (mut inside, mut inside_q) = (0, 0);
    let (mut questions, mut heard_q) = (0, 0);
    for (u, r) in corpus.iter().zip(runs) {
        // Pauses inside the sentence: every utterance but the last.
        for s in r.segments.split_last().map_or(&[][..], |(_, rest)| rest) {
            inside += 1;
            inside_q += usize::from(question(&s.text));
        }
        if let Some((start, resume)) = u.pause {
            paused += 1;
            // The words the turn machine judges at the inserted pause.
            if let Some(s) = r.segments.iter().rev().find(|s| s.end <= resume)
                && question(&s.text)
            {
                asked.push((s, ms(resume - start) / 1000.0, u));
            }
        } else if question(&u.text) {
            questions += 1;
            heard_q += usize::from(r.segments.last().is_some_and(|s| question(&s.text)));
        }
    }
    println!("== the question rule's exposure (Whisper's words, Smart Turn's 0.15 s VAD pause) ==");
    println!("paused sentences whose words at the inserted pause end with '?': {}/{paused}", asked.len());
    let unfinished = |s: &Segment| s.p.is_some_and(|p| p < SmartEndpointing::default().threshold);
    for (s, pause, u) in &asked {
        let p = s.p.map_or_else(|| "-".to_owned(), |p| format!("{p:.2}"));
        println!("  {:?} (Smart Turn p {p}, pause {pause:.1} s) in {:?}", s.text, u.text);
    }
    let applies: Vec<_> = asked.iter().filter(|(s, ..)| unfinished(s)).collect();
    let longer = applies.iter().filter(|(_, pause, _)| *pause > question_delay.as_secs_f64()).count();
    println!(
        "of which Smart Turn heard as unfinished (the rule applies: a pause longer than the question \
         delay, {} s, would be cut off): {}; with such a pause here: {longer}",
        question_delay.as_secs_f64(),
        applies.len()
    );
    println!(
        "pauses inside a sentence (inserted or between words) whose words end with '?': {inside_q}/{inside}"
    );
    println!(
        "whole sentences that are questions: {questions}/{}; Whisper ends their last words with '?': \
         {heard_q}/{questions}",
        corpus.len() - paused
    );
}

/// Whole sentences answered sooner or later with the question rule (`on`) than without (`off`).
pub fn whole_changes(corpus: &[Utterance], off: &[Run], on: &[Run]) {
    let delay =
        |u: &Utterance, r: &Run| r.answered.filter(|&a| a >= u.speech_end).map(|a| ms(a - u.speech_end));
    let mut changed = Vec::new();
    for ((u, a), b) in corpus.iter().zip(off).zip(on).filter(|((u, _), _)| u.pause.is_none()) {
        if let (Some(x), Some(y)) = (delay(u, a), delay(u, b))
            && (x - y).abs() >= 100.0
        {
            let words = b.segments.last().map_or("", |s| s.text.as_str());
            changed.push(format!("{:?} (heard {words:?}): {x:.0} -> {y:.0} ms", u.text));
        }
    }
    // Smaller differences are the model's wall time, which sets when each verdict arrives.
    println!("whole sentences the question rule answers sooner or later by 0.1 s or more: {}", changed.len());
    for c in changed {
        println!("  {c}");
    }
    println!("whole sentences still decided more than 1 s after their end (question rule on):");
    for (u, r) in corpus.iter().zip(on).filter(|(u, _)| u.pause.is_none()) {
        if let Some(d) = delay(u, r).filter(|&d| d > 1000.0) {
            let p = r.segments.last().and_then(|s| s.p).map_or_else(|| "-".to_owned(), |p| format!("{p:.2}"));
            let words = r.segments.last().map_or("", |s| s.text.as_str());
            println!("  {d:.0} ms: {:?} (heard {words:?}, last p {p})", u.text);
        }
    }
}
