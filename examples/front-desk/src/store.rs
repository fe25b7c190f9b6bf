//! The restaurant's booking book, in memory: a few tables per evening slot.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Seats at one table, at most.
pub const MAX_PARTY: u32 = 8;
/// Slots the restaurant books, "HH:MM".
pub const SLOTS: [&str; 6] = ["18:00", "18:30", "19:00", "19:30", "20:00", "20:30"];

/// The slot a time names: "19:30" itself, or the evening slot of a 12-hour "7:30" (callers
/// say "seven thirty" for tonight).
fn slot(time: &str) -> Option<&'static str> {
    let (h, m) = time.trim().split_once(':')?;
    let h: u32 = h.parse().ok()?;
    let wanted = format!("{:02}:{m}", if h < 12 { h + 12 } else { h });
    SLOTS.iter().copied().find(|s| *s == wanted)
}

/// One booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// "R-1001", …
    pub reference: String,
    /// Whose it is.
    pub name: String,
    /// How many people.
    pub people: u32,
    /// "19:30".
    pub time: String,
}

/// Why a booking cannot be made (the message is read by the LLM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookError {
    /// Not a slot we book.
    NoSuchTime(String),
    /// Too many people for one table, or none.
    PartySize(u32),
    /// Every table of the slot is taken.
    Full(String),
    /// No booking has that reference.
    NoSuchBooking(String),
}

impl std::fmt::Display for BookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BookError::NoSuchTime(t) => write!(f, "we do not book {t}; the times are {}", SLOTS.join(", ")),
            BookError::PartySize(n) => write!(f, "a table seats 1 to {MAX_PARTY} people, not {n}"),
            BookError::Full(t) => write!(f, "every table at {t} is taken"),
            BookError::NoSuchBooking(r) => write!(f, "there is no booking {r}"),
        }
    }
}

#[derive(Debug)]
struct Book {
    tables_per_slot: usize,
    bookings: BTreeMap<String, Booking>,
    next: u32,
}

/// The booking book, shared by a session's tools (cheap to clone).
#[derive(Debug, Clone)]
pub struct Store {
    book: Arc<Mutex<Book>>,
    /// How long a lookup takes (a real system would be a network call away).
    pub latency: Duration,
}

impl Store {
    /// A book with `tables_per_slot` tables in each slot.
    pub fn new(tables_per_slot: usize) -> Self {
        let book = Book { tables_per_slot, bookings: BTreeMap::new(), next: 1001 };
        Self { book: Arc::new(Mutex::new(book)), latency: Duration::ZERO }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Book) -> T) -> T {
        f(&mut self.book.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn lookup(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// Tables still free at `time` ("19:30"; an evening time said the 12-hour way, "7:30",
    /// means the same slot).
    pub async fn free_tables(&self, time: &str) -> Result<usize, BookError> {
        self.lookup().await;
        let time = slot(time).ok_or_else(|| BookError::NoSuchTime(time.to_owned()))?;
        Ok(self.with(|b| b.tables_per_slot - b.bookings.values().filter(|x| x.time == time).count()))
    }

    /// Books a table.
    pub async fn book(&self, name: &str, people: u32, time: &str) -> Result<Booking, BookError> {
        let time = slot(time).unwrap_or(time);
        if !(1..=MAX_PARTY).contains(&people) {
            return Err(BookError::PartySize(people));
        }
        if self.free_tables(time).await? == 0 {
            return Err(BookError::Full(time.to_owned()));
        }
        Ok(self.with(|b| {
            let booking = Booking {
                reference: format!("R-{}", b.next),
                name: name.to_owned(),
                people,
                time: time.to_owned(),
            };
            b.next += 1;
            b.bookings.insert(booking.reference.clone(), booking.clone());
            booking
        }))
    }

    /// Cancels a booking.
    pub async fn cancel(&self, reference: &str) -> Result<Booking, BookError> {
        self.lookup().await;
        self.with(|b| b.bookings.remove(reference))
            .ok_or_else(|| BookError::NoSuchBooking(reference.to_owned()))
    }

    /// Every booking, by reference.
    pub fn bookings(&self) -> Vec<Booking> {
        self.with(|b| b.bookings.values().cloned().collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn an_evening_time_said_the_12_hour_way_is_its_slot() {
        assert_eq!(slot("19:30"), Some("19:30"));
        assert_eq!(slot("7:30"), Some("19:30"));
        assert_eq!(slot("07:30"), Some("19:30"));
        assert_eq!(slot("6:00"), Some("18:00"));
        assert_eq!(slot("12:00"), None);
        assert_eq!(slot("seven"), None);
    }

    #[tokio::test]
    async fn a_booking_at_7_30_is_at_19_30() {
        let store = Store::new(1);
        let b = store.book("Smith", 4, "7:30").await.unwrap();
        assert_eq!(b.time, "19:30");
        assert_eq!(store.free_tables("7:30").await, Ok(0));
        assert_eq!(store.book("Lee", 2, "9:15").await, Err(BookError::NoSuchTime("9:15".into())));
    }
}
