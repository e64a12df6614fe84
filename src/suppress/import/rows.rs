//! Reading a suppression list someone already has: one address per line, or a CSV export
//! from a hosted gateway or list manager, its columns found by their header names.
//!
//! Takes a byte reader and the format; gives one [`Row`] per data line (address normalised
//! and validated, with the optional reason, created-at and scope the file carries) or an
//! [`Invalid`] naming the line and why. It never skips a line silently and never touches the
//! database.
//!
//! Column names, as the common exports write them (matched case-insensitively, ignoring
//! spaces, `_` and `-`): SendGrid `email`, `created` (Unix time), `reason`; Mailgun `address`,
//! `error`, `created_at`; Amazon SES `EmailAddress`, `Reason`, `LastUpdateTime`; Postmark
//! `Email Address` / `EmailAddress`, `SuppressionReason`, `CreatedAt`; SparkPost `recipient`,
//! `description`, `created`; Mailchimp `Email Address`; listmonk, Mautic, Brevo `email`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::io::{BufRead, Read};

/// How the file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// CSV when the first line has a known address column, else one address per line.
    #[default]
    Auto,
    /// One address per line; blank lines and `#` comments are skipped.
    Plain,
    /// A header line, then rows; `,`, `;` or tab separated (the most frequent in the header).
    Csv,
}

/// Header names of each column rebound reads, normalised (lowercase, no spaces, `_`, `-`).
const ADDRESS: &[&str] = &["email", "emailaddress", "address", "recipient", "mail", "emailid", "subscriber"];
const REASON: &[&str] = &["reason", "suppressionreason", "error", "description", "bouncereason", "type"];
const CREATED: &[&str] = &["createdat", "created", "lastupdatetime", "date", "timestamp", "suppressedat", "addedat"];
const SCOPE: &[&str] = &["scope", "sendingdomain"];

fn header_key(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .collect::<String>()
        .to_lowercase()
}

/// One address to suppress, as the file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line (plain) or record (CSV, the header is 1) number.
    pub line: u64,
    pub address: String,
    pub reason: Option<String>,
    pub created_at: Option<NaiveDateTime>,
    /// Set when the file names one; `global` or a sending domain.
    pub scope: Option<String>,
    /// A created-at value was there but could not be read (the import time is used).
    pub unread_date: bool,
}

/// A line that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Invalid {
    pub line: u64,
    pub value: String,
    pub why: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error(
        "no address column in the CSV header ({found}); name it one of email, email address, address, \
         recipient, or pass the column name (--column / ?column=)"
    )]
    NoAddressColumn { found: String },
    #[error("column `{0}` is not in the CSV header")]
    NoSuchColumn(String),
    #[error("cannot read the list: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// `address` normalised, if it is one rebound can suppress: one `@`, a local part of 1–64
/// characters without spaces or separators, a domain of two or more labels of letters,
/// digits and inner hyphens (an IDN in its Unicode form is accepted) up to 253 characters.
pub fn checked_address(address: &str) -> Result<String, &'static str> {
    let a = super::super::normalize(address);
    let Some((local, domain)) = a.split_once('@') else { return Err("no @") };
    if local.is_empty() || local.len() > 64 {
        return Err("the local part is empty or longer than 64 characters");
    }
    if local.chars().any(|c| c.is_whitespace() || c.is_control() || "@,;<>()[]\\\"".contains(c)) {
        return Err("the local part has spaces or separators");
    }
    if domain.is_empty() || domain.len() > 253 || !domain.contains('.') {
        return Err("the domain is not a domain name");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if !domain.split('.').all(label_ok) {
        return Err("the domain is not a domain name");
    }
    Ok(a)
}

/// A created-at value as exports write it: RFC 3339, `YYYY-MM-DD[ T]HH:MM:SS[.f]`, a day, or
/// Unix seconds / milliseconds.
pub fn read_date(v: &str) -> Option<NaiveDateTime> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    if let Some(t) = plain_time(v) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.naive_utc());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f UTC"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Some(t);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0);
    }
    if v.len() >= 9 && v.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = v.parse().ok()?;
        let secs = if v.len() >= 13 { n / 1000 } else { n };
        return DateTime::from_timestamp(secs, 0).map(|t| t.naive_utc());
    }
    None
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), the form most exports write, read by hand: chrono's
/// `parse_from_str` reads its format string anew for each value, and that was a tenth of the
/// reading thread's time on a million-row export.
fn plain_time(v: &str) -> Option<NaiveDateTime> {
    let b = v.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)
}

/// The rows of a list, one at a time.
pub struct Rows<R: Read> {
    inner: Inner<R>,
}

enum Inner<R: Read> {
    Plain { lines: std::io::Lines<std::io::BufReader<R>>, line: u64 },
    Csv { reader: csv::Reader<std::io::BufReader<R>>, columns: Columns, record: csv::StringRecord },
}

struct Columns {
    address: usize,
    reason: Option<usize>,
    created: Option<usize>,
    scope: Option<usize>,
}

impl<R: Read> Rows<R> {
    /// Opens `input` as `format`; `column` names the address column of a CSV whose header
    /// rebound does not recognise.
    pub fn open(input: R, format: Format, column: Option<&str>) -> Result<Rows<R>, RowsError> {
        let mut input = std::io::BufReader::with_capacity(1 << 16, input);
        let head = first_line(&mut input)?;
        let delimiter =
            [b',', b';', b'\t'].into_iter().max_by_key(|d| head.bytes().filter(|b| b == d).count()).unwrap();
        let headers: Vec<String> =
            head.split(delimiter as char).map(|h| h.trim().trim_matches('"').to_string()).collect();
        let find = |names: &[&str]| headers.iter().position(|h| names.contains(&header_key(h).as_str()));
        let csv = match format {
            Format::Plain => false,
            Format::Csv => true,
            Format::Auto => column.is_some() || find(ADDRESS).is_some(),
        };
        if !csv {
            return Ok(Rows { inner: Inner::Plain { lines: input.lines(), line: 0 } });
        }
        let address = match column {
            Some(name) => headers
                .iter()
                .position(|h| h == name || header_key(h) == header_key(name))
                .ok_or_else(|| RowsError::NoSuchColumn(name.to_string()))?,
            None => find(ADDRESS).ok_or_else(|| RowsError::NoAddressColumn { found: headers.join(", ") })?,
        };
        let columns = Columns { address, reason: find(REASON), created: find(CREATED), scope: find(SCOPE) };
        let reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(true).from_reader(input);
        Ok(Rows { inner: Inner::Csv { reader, columns, record: csv::StringRecord::new() } })
    }
}

/// Peeks at the first line without consuming it.
fn first_line<R: Read>(input: &mut std::io::BufReader<R>) -> std::io::Result<String> {
    let buf = input.fill_buf()?;
    let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).trim_end_matches('\r').to_string())
}

impl<R: Read> Iterator for Rows<R> {
    type Item = Result<Result<Row, Invalid>, RowsError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Plain { lines, line } => loop {
                let text = match lines.next()? {
                    Ok(t) => t,
                    Err(e) => return Some(Err(e.into())),
                };
                *line += 1;
                let v = text.trim().trim_start_matches('\u{feff}');
                if v.is_empty() || v.starts_with('#') {
                    continue;
                }
                return Some(Ok(row(*line, v, None, None, None)));
            },
            Inner::Csv { reader, columns, record } => loop {
                match reader.read_record(record) {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => return Some(Err(e.into())),
                }
                let line = record.position().map_or(0, |p| p.record() + 1);
                let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::trim).filter(|v| !v.is_empty());
                let Some(address) = cell(Some(columns.address)) else {
                    if record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    return Some(Ok(Err(Invalid {
                        line,
                        value: String::new(),
                        why: "the address column is empty".into(),
                    })));
                };
                return Some(Ok(row(line, address, cell(columns.reason), cell(columns.created), cell(columns.scope))));
            },
        }
    }
}

fn row(
    line: u64,
    address: &str,
    reason: Option<&str>,
    created: Option<&str>,
    scope: Option<&str>,
) -> Result<Row, Invalid> {
    let invalid = |why: &str| Invalid { line, value: address.chars().take(200).collect(), why: why.to_string() };
    let address = checked_address(address).map_err(invalid)?;
    let scope = match scope.map(|s| s.trim().to_lowercase()) {
        Some(s) if s == super::super::GLOBAL || checked_address(&format!("x@{s}")).is_ok() => Some(s),
        Some(_) => return Err(invalid("the scope column is neither `global` nor a domain")),
        None => None,
    };
    let created_at = created.and_then(read_date);
    Ok(Row {
        line,
        address,
        reason: reason.map(|r| r.chars().take(200).collect()),
        created_at,
        scope,
        unread_date: created.is_some() && created_at.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, format: Format) -> Vec<Result<Row, Invalid>> {
        Rows::open(text.as_bytes(), format, None).unwrap().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn dates_in_the_forms_exports_write() {
        let t = |s: &str| read_date(s).map(|t| t.to_string());
        let noon = Some("2025-03-14 12:05:09".to_string());
        for v in ["2025-03-14 12:05:09", "2025-03-14T12:05:09", "2025-03-14T12:05:09Z", "2025-03-14 12:05:09.000"] {
            assert_eq!(t(v), noon, "{v}");
        }
        assert_eq!(t("2025-03-14T14:05:09+02:00"), noon, "an offset is taken off");
        assert_eq!(t("1741953909"), noon, "Unix seconds");
        assert_eq!(t("2025-03-14"), Some("2025-03-14 00:00:00".into()));
        for bad in ["2025-02-30 12:00:00", "2025-03-14 25:00:00", "2025-03-14 1a:00:00", "14/03/2025", "soon"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_are_validated() {
        assert_eq!(checked_address(" <Jane@Example.ORG> ").unwrap(), "jane@example.org");
        for bad in [
            "jane",
            "@example.org",
            "jane@",
            "jane@localhost",
            "ja ne@example.org",
            "a,b@example.org",
            "jane@-bad.example",
            "jane@exa_mple.org",
            "jane@example..org",
            "a@b@example.org",
        ] {
            assert!(checked_address(bad).is_err(), "{bad}");
        }
        assert!(checked_address("josé@bücher.example").is_ok());
    }

    #[test]
    fn plain_lists_skip_blanks_and_comments_and_name_bad_lines() {
        let rows = all("# exported\njane@example.org\n\n  BOB@Example.org \r\nnot-an-address\n", Format::Auto);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_ref().unwrap().address, "jane@example.org");
        assert_eq!(rows[1].as_ref().unwrap().line, 4);
        let bad = rows[2].as_ref().unwrap_err();
        assert_eq!((bad.line, bad.value.as_str()), (5, "not-an-address"));
    }

    #[test]
    fn gateway_exports_are_read_by_their_headers() {
        let sendgrid = "email,created,status,reason\njane@example.org,1700000000,5.1.1,\"550 5.1.1 user unknown\"\n";
        let r = all(sendgrid, Format::Auto).remove(0).unwrap();
        assert_eq!(r.reason.as_deref(), Some("550 5.1.1 user unknown"));
        assert_eq!(r.created_at.unwrap().to_string(), "2023-11-14 22:13:20");
        let ses = "EmailAddress;Reason;LastUpdateTime\nbob@example.org;BOUNCE;2024-02-01T10:00:00Z\n";
        let r = all(ses, Format::Auto).remove(0).unwrap();
        assert_eq!((r.address.as_str(), r.reason.as_deref()), ("bob@example.org", Some("BOUNCE")));
        let postmark = "Email Address\tSuppressionReason\tCreatedAt\tScope\nann@example.org\tHardBounce\tyesterday\tnews.example\n";
        let r = all(postmark, Format::Auto).remove(0).unwrap();
        assert!(r.unread_date && r.created_at.is_none());
        assert_eq!(r.scope.as_deref(), Some("news.example"));
    }

    #[test]
    fn an_unknown_header_is_refused_with_what_was_found() {
        let e = Rows::open("who,when\njane@example.org,now\n".as_bytes(), Format::Csv, None).err().unwrap();
        assert!(e.to_string().contains("who, when"), "{e}");
        let named = Rows::open("who,when\njane@example.org,now\n".as_bytes(), Format::Csv, Some("who")).unwrap();
        assert_eq!(named.map(|r| r.unwrap().unwrap().address).collect::<Vec<_>>(), ["jane@example.org"]);
    }
}
