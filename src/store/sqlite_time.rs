//! Timestamps as diesel writes them into SQLite (`%F %T%.f`), for statements that carry
//! them as text inside JSON (see `suppress::list`): stored values must compare and parse
//! exactly like the ones diesel binds, so the format is diesel's, parsed once per batch
//! rather than once per value.

use chrono::NaiveDateTime;
use chrono::format::{Item, StrftimeItems};

/// diesel's `ENCODE_NAIVE_DATETIME_FORMAT` for SQLite.
const FORMAT: &str = "%F %T%.f";

pub struct Stamp(Vec<Item<'static>>);

impl Stamp {
    pub fn new() -> Self {
        Stamp(StrftimeItems::new(FORMAT).parse_to_owned().expect("a fixed, valid format"))
    }

    pub fn format(&self, t: NaiveDateTime) -> String {
        t.format_with_items(self.0.iter()).to_string()
    }
}

impl Default for Stamp {
    fn default() -> Self {
        Stamp::new()
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
