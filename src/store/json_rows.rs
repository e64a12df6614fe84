//! Rows for a SQLite multi-row insert that binds one parameter: a JSON array of arrays,
//! read back with `jsonb_each` (`value->>0`, `value->>1`, … in column order).
//!
//! Takes values column by column, row by row; gives the JSON text and the statement that
//! reads it. For tables too wide for serde's tuples (at most 16 elements), and cheaper than
//! building `serde_json::Value`s. Timestamps are written as diesel binds them into SQLite
//! ([`Stamp`]), so stored values compare and parse alike. It never runs a statement.

use super::sqlite_time::Stamp;
use chrono::NaiveDateTime;
use std::fmt::Write;

/// The JSON array being built.
pub struct JsonRows {
    buf: String,
    stamp: Stamp,
}

/// One row of [`JsonRows`]; closed when dropped.
pub struct JsonRow<'a> {
    buf: &'a mut String,
    stamp: &'a Stamp,
    first: bool,
}

impl JsonRows {
    /// `bytes`: a guess of the JSON's size, to allocate once.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = String::with_capacity(bytes + 2);
        buf.push('[');
        JsonRows { buf, stamp: Stamp::new() }
    }

    pub fn row(&mut self) -> JsonRow<'_> {
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        self.buf.push('[');
        JsonRow { buf: &mut self.buf, stamp: &self.stamp, first: true }
    }

    pub fn finish(mut self) -> String {
        self.buf.push(']');
        self.buf
    }
}

impl JsonRow<'_> {
    fn next(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.buf.push(',');
        }
    }

    pub fn text(&mut self, v: Option<&str>) -> &mut Self {
        self.next();
        match v {
            Some(s) => escape_into(self.buf, s),
            None => self.buf.push_str("null"),
        }
        self
    }

    pub fn int(&mut self, v: Option<i64>) -> &mut Self {
        self.next();
        match v {
            Some(n) => {
                let _ = write!(self.buf, "{n}");
            }
            None => self.buf.push_str("null"),
        }
        self
    }

    pub fn time(&mut self, v: NaiveDateTime) -> &mut Self {
        let s = self.stamp.format(v);
        self.text(Some(&s))
    }
}

impl Drop for JsonRow<'_> {
    fn drop(&mut self) {
        self.buf.push(']');
    }
}

/// A JSON string literal of `s`.
fn escape_into(buf: &mut String, s: &str) {
    buf.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        buf.push_str(&s[from..i]);
        if esc.is_empty() {
            let _ = write!(buf, "\\u{b:04x}");
        } else {
            buf.push_str(esc);
        }
        from = i + 1;
    }
    buf.push_str(&s[from..]);
    buf.push('"');
}

/// `INSERT INTO table (cols) SELECT value->>0, … FROM jsonb_each(?1) ORDER BY key`: the rows
/// in the array's order. `jsonb_each` gives each row as a JSONB blob, which `->>` reads as
/// it is; `json_each` gives it as text, written out and parsed again for every column.
pub fn insert_sql(table: &str, cols: &[&str]) -> String {
    let values: Vec<String> = (0..cols.len()).map(|i| format!("value->>{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM jsonb_each(?1) WHERE true ORDER BY key",
        cols.join(", "),
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Back {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        t: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        n: Option<i64>,
    }

    /// What goes in comes back out of SQLite's `jsonb_each` unchanged, escapes included.
    #[test]
    fn round_trip() {
        let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
        let texts = [Some("plain"), Some("q\"uo\\te\n\t\r\u{1}é ✓"), None, Some("")];
        let mut rows = JsonRows::with_capacity(0);
        for (i, t) in texts.iter().enumerate() {
            rows.row().text(*t).int((i != 1).then_some(i as i64 - 1));
        }
        let json = rows.finish();
        let back: Vec<Back> =
            diesel::sql_query("SELECT value->>0 AS t, value->>1 AS n FROM jsonb_each(?1) ORDER BY key")
                .bind::<diesel::sql_types::Text, _>(&json)
                .load(&mut c)
                .unwrap();
        let want: Vec<Back> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Back { t: t.map(str::to_string), n: (i != 1).then_some(i as i64 - 1) })
            .collect();
        assert_eq!(back, want);
    }
}
