//! The local-mode accuracy quiz: short spoken questions with unambiguous answers, grouped in
//! conversations (one room each, so follow-ups need the history), each conversation spoken by
//! one espeak-ng voice.
//!
//! An answer is right when what the user hears holds one of the expected words (see
//! [`super::score::answers`]); no expected word occurs in its own question. Follow-ups ("And
//! which month comes after it?") name neither the earlier question nor its answer.

/// One question and the words that make its answer right (any one of them).
#[derive(Debug, Clone, Copy)]
pub struct Question {
    /// What the user says (also the reference for the word error rate).
    pub text: &'static str,
    /// Words, one of which a right answer holds (normalised: digits for numbers).
    pub expect: &'static [&'static str],
}

/// Questions asked one after the other in one room.
#[derive(Debug, Clone, Copy)]
pub struct Conversation {
    /// The espeak-ng voice (`-v`).
    pub voice: &'static str,
    /// Words per minute (`-s`).
    pub speed: u32,
    /// In order.
    pub questions: &'static [Question],
}

const fn q(text: &'static str, expect: &'static [&'static str]) -> Question {
    Question { text, expect }
}

/// The espeak-ng voices used, one per conversation in turn: American and British English,
/// male and female variants.
pub const VOICES: [&str; 4] = ["en-us", "en-us+f3", "en-gb-x-rp", "en-us+m4"];

/// The whole quiz: 10 conversations, 49 questions (facts, arithmetic, days and months,
/// colours, and follow-ups that only the history can answer).
pub const QUIZ: [Conversation; 10] = [
    Conversation {
        voice: VOICES[0],
        speed: 160,
        questions: &[
            q("What is the capital of France?", &["paris"]),
            q("And what is the capital of Italy?", &["rome"]),
            q("How many days are in a week?", &["7"]),
            q("What color is the sky on a clear day?", &["blue"]),
            q("What do bees make?", &["honey"]),
        ],
    },
    Conversation {
        voice: VOICES[1],
        speed: 160,
        questions: &[
            q("My name is Peter. What is two plus two?", &["4"]),
            q("What is seven times eight?", &["56"]),
            q("What color is snow?", &["white"]),
            q("What is my name?", &["peter"]),
        ],
    },
    Conversation {
        voice: VOICES[2],
        speed: 155,
        questions: &[
            q("What is the capital of Japan?", &["tokyo"]),
            q("Which continent is that country in?", &["asia"]),
            q("How many months are in a year?", &["12"]),
            q("What is frozen water called?", &["ice"]),
            q("What color is grass?", &["green"]),
        ],
    },
    Conversation {
        voice: VOICES[3],
        speed: 165,
        questions: &[
            q("What is five plus three?", &["8"]),
            q("And what is that number times two?", &["16"]),
            q("Which planet do we live on?", &["earth"]),
            q("What month comes after March?", &["april"]),
            q("What color is a ripe banana?", &["yellow"]),
        ],
    },
    Conversation {
        voice: VOICES[0],
        speed: 170,
        questions: &[
            q("How many legs does a spider have?", &["8"]),
            q("And how many legs does an insect have?", &["6"]),
            q("What is the largest ocean on Earth?", &["pacific"]),
            q("How many hours are in a day?", &["24"]),
            q("What color is coal?", &["black"]),
        ],
    },
    Conversation {
        voice: VOICES[1],
        speed: 150,
        questions: &[
            q("What is the first month of the year?", &["january"]),
            q("And which month comes after it?", &["february"]),
            q("What is twelve divided by three?", &["4"]),
            q("Which animal is known as the king of the jungle?", &["lion", "lions"]),
            q("What language is spoken in Spain?", &["spanish"]),
        ],
    },
    Conversation {
        voice: VOICES[2],
        speed: 165,
        questions: &[
            q("What day comes after Monday?", &["tuesday"]),
            q("And what day comes after that one?", &["wednesday"]),
            q("What is the capital of Germany?", &["berlin"]),
            q("What color do you get when you mix blue and yellow?", &["green"]),
            q("Who wrote Romeo and Juliet?", &["shakespeare"]),
        ],
    },
    Conversation {
        voice: VOICES[3],
        speed: 155,
        questions: &[
            q("What is ten minus four?", &["6"]),
            q("Now add five to that.", &["11"]),
            q("How many minutes are in an hour?", &["60"]),
            q("In which month is Christmas?", &["december"]),
            q("What is the tallest animal in the world?", &["giraffe", "giraffes"]),
        ],
    },
    Conversation {
        voice: VOICES[0],
        speed: 150,
        questions: &[
            q("What is the largest planet in our solar system?", &["jupiter"]),
            q("What is the closest star to the Earth?", &["sun"]),
            q("What is nine plus six?", &["15"]),
            q("What day comes before Friday?", &["thursday"]),
            q("What color is a ripe tomato?", &["red"]),
        ],
    },
    Conversation {
        voice: VOICES[1],
        speed: 165,
        questions: &[
            q("What animal says moo?", &["cow", "cows"]),
            q("What is the capital of Spain?", &["madrid"]),
            q("What is one hundred minus one?", &["99"]),
            q("At what temperature in Celsius does water boil?", &["100"]),
            q("What is three times three?", &["9"]),
        ],
    },
];

/// The slice the test suite runs: two short conversations (7 questions, two voices) whose
/// answers are single common words that both full runs of the quiz got right, one of them a
/// follow-up that needs the history ("What is my name?").
pub const SLICE: [Conversation; 2] = [
    Conversation {
        voice: VOICES[0],
        speed: 160,
        questions: &[
            q("What is the capital of France?", &["paris"]),
            q("How many days are in a week?", &["7"]),
            q("What color is the sky on a clear day?", &["blue"]),
            q("How many hours are in a day?", &["24"]),
        ],
    },
    Conversation {
        voice: VOICES[1],
        speed: 160,
        questions: &[
            q("My name is Peter. What is two plus two?", &["4"]),
            q("What is the capital of Japan?", &["tokyo"]),
            q("What is my name?", &["peter"]),
        ],
    },
];

/// All questions of `convs`, in order.
pub fn questions(convs: &[Conversation]) -> impl Iterator<Item = &Question> {
    convs.iter().flat_map(|c| c.questions.iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_stack::score::{answers, normalise};

    #[test]
    fn the_quiz_is_big_enough_and_no_question_gives_its_answer_away() {
        assert!(questions(&QUIZ).count() >= 40);
        assert!(questions(&SLICE).count() >= 6);
        for q in questions(&QUIZ).chain(questions(&SLICE)) {
            assert!(!q.expect.is_empty(), "{q:?}");
            assert!(!answers(q.text, q.expect), "the question gives its answer away: {q:?}");
            for e in q.expect {
                assert_eq!(normalise(e).join(" "), *e, "expected words are written normalised: {q:?}");
            }
        }
    }

    #[test]
    fn the_slice_is_taken_from_the_quiz() {
        for q in questions(&SLICE) {
            assert!(questions(&QUIZ).any(|x| x.text == q.text && x.expect == q.expect), "{q:?}");
        }
    }
}
