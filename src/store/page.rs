//! One keyset page type for every paginated view: the CLI's `--after`, and the admin API's
//! `?after=` cursors.
//!
//! Takes a limit and the cursor of the previous page's last row; gives the rows after it in
//! the view's order and the cursor of the next page. Keyset, not offset: a page stays right
//! while new rows arrive between two reads (an offset would shift by the number inserted).
//! A cursor is opaque text for its reader; each view encodes its own sort key in it.

use chrono::NaiveDateTime;

/// At most `limit` rows after `after` (None: from the start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub after: Option<Cursor>,
}

impl Page {
    pub fn first(limit: i64) -> Page {
        Page { limit, after: None }
    }
}

/// The sort key of a row, as text: `part|part|…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a cursor of this view: pass back the `next` value a page gave")]
pub struct BadCursor(pub String);

const TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

impl Cursor {
    /// The key of an events-view row: its time and id.
    pub fn time_id(at: NaiveDateTime, id: i64) -> Cursor {
        Cursor(format!("{}|{id}", at.format(TIME)))
    }

    pub fn to_time_id(&self) -> Result<(NaiveDateTime, i64), BadCursor> {
        let bad = || BadCursor(self.0.clone());
        let (t, id) = self.0.split_once('|').ok_or_else(bad)?;
        Ok((NaiveDateTime::parse_from_str(t, TIME).map_err(|_| bad())?, id.parse().map_err(|_| bad())?))
    }

    /// The key of a row known by a number (the review queue's ids).
    pub fn id(id: i64) -> Cursor {
        Cursor(id.to_string())
    }

    pub fn to_id(&self) -> Result<i64, BadCursor> {
        self.0.parse().map_err(|_| BadCursor(self.0.clone()))
    }

    /// The key of a suppression-list row: when, address and scope.
    pub fn time_text(at: NaiveDateTime, a: &str, b: &str) -> Cursor {
        Cursor(format!("{}|{a}|{b}", at.format(TIME)))
    }

    /// The key of a row known by two texts, the last of which never holds `|` (a
    /// suppression's address and scope: an address may, a scope is a domain).
    pub fn texts(a: &str, b: &str) -> Cursor {
        Cursor(format!("{a}|{b}"))
    }

    pub fn to_texts(&self) -> Result<(String, String), BadCursor> {
        let (a, b) = self.0.rsplit_once('|').ok_or_else(|| BadCursor(self.0.clone()))?;
        Ok((a.to_string(), b.to_string()))
    }

    pub fn to_time_text(&self) -> Result<(NaiveDateTime, String, String), BadCursor> {
        let bad = || BadCursor(self.0.clone());
        let mut parts = self.0.splitn(3, '|');
        let t = parts.next().ok_or_else(bad)?;
        let (a, b) = (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
        Ok((NaiveDateTime::parse_from_str(t, TIME).map_err(|_| bad())?, a.to_string(), b.to_string()))
    }
}

/// Why a paginated view could not be read: a cursor it did not hand out, or the database.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Cursor(#[from] BadCursor),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

impl From<diesel::result::Error> for PageError {
    fn from(e: diesel::result::Error) -> Self {
        PageError::Store(super::StoreError::Query(e))
    }
}

/// A page of rows and the cursor of the next one (None: this was the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Paged<T> {
    /// `rows` as read with one more than the page's limit: the extra row only tells whether
    /// another page follows.
    pub fn of(mut rows: Vec<T>, page: &Page, key: impl Fn(&T) -> Cursor) -> Paged<T> {
        let more = rows.len() as i64 > page.limit;
        rows.truncate(usize::try_from(page.limit).unwrap_or(0));
        let next = if more { rows.last().map(key) } else { None };
        Paged { rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap().and_hms_micro_opt(10, 0, 0, 42).unwrap();
        assert_eq!(Cursor::time_id(t, 7).to_time_id().unwrap(), (t, 7));
        let c = Cursor::time_text(t, "a@b.example", "global");
        assert_eq!(c.to_time_text().unwrap(), (t, "a@b.example".into(), "global".into()));
        assert_eq!(
            Cursor::texts("a|b@c.example", "global").to_texts().unwrap(),
            ("a|b@c.example".into(), "global".into())
        );
        assert!(Cursor("yesterday|x".into()).to_time_id().is_err());
        assert!(Cursor("x".into()).to_id().is_err());
    }

    #[test]
    fn one_extra_row_means_a_next_page() {
        let page = Page::first(2);
        let p = Paged::of(vec![1, 2, 3], &page, |n| Cursor::id(*n));
        assert_eq!((p.rows, p.next), (vec![1, 2], Some(Cursor::id(2))));
        let p = Paged::of(vec![1, 2], &page, |n| Cursor::id(*n));
        assert_eq!(p.next, None);
    }
}
