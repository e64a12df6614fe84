//! Timestamps as diesel writes them into SQLite (`%F %T%.f`), for statements that carry
//! them as text inside JSON (see `suppress::list`): stored values must compare and parse
//! exactly like the ones diesel binds. Written digit by digit: chrono's formatter
//! interprets its format items for every value, and a bulk import of a million entries
//! spent about 4% of its time there (formatting three stamps per entry).

use chrono::{Datelike, NaiveDateTime, Timelike};
use std::fmt::Write;

#[derive(Default)]
pub struct Stamp;

impl Stamp {
    pub fn new() -> Self {
        Stamp
    }

    pub fn format(&self, t: NaiveDateTime) -> String {
        let ns = t.nanosecond();
        // Years outside 0000–9999 (chrono writes a sign) and leap seconds (a 60th second)
        // are chrono's to write; no import carries them, but they must stay exact.
        if !(0..=9999).contains(&t.year()) || ns >= 1_000_000_000 {
            return t.format("%F %T%.f").to_string();
        }
        let mut s = String::with_capacity(29);
        let _ = write!(
            s,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        // `%.f`: nothing for whole seconds, else 3, 6 or 9 digits, the fewest that are exact.
        let _ = match ns {
            0 => Ok(()),
            n if n % 1_000_000 == 0 => write!(s, ".{:03}", n / 1_000_000),
            n if n % 1_000 == 0 => write!(s, ".{:06}", n / 1_000),
            n => write!(s, ".{n:09}"),
        };
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }

    /// The text is the one diesel itself stores, with and without fractions of a second.
    #[test]
    fn same_text_as_diesel() {
        let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
        let stamp = Stamp::new();
        for t in [
            "2026-12-01T10:00:00",
            "2026-12-01T10:00:00.120",
            "2026-12-01T10:00:00.123456",
            "1999-01-02T03:04:05.000000007",
            "0001-01-01T00:00:00.5",
            "2026-02-28T23:59:59.999999999",
        ] {
            let t: NaiveDateTime = t.parse().unwrap();
            let stored: Stored = diesel::sql_query("SELECT ?1 AS text")
                .bind::<diesel::sql_types::Timestamp, _>(t)
                .get_result(&mut c)
                .unwrap();
            assert_eq!(stamp.format(t), stored.text, "{t}");
        }
    }
}
