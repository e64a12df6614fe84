//! Small pieces under the IMAP session: bounded awaits, stream draining, the server's words
//! out of async-imap's errors, and UID sets.
//!
//! Takes async-imap futures, streams and errors; gives bounded results and [`FetchError`]s.
//! It never leaves a response half-read without reporting it (the caller then drops the session).

use crate::fetch::error::{ErrorKind, FetchError, Stage};
use crate::fetch::net::io_kind;
use async_imap::error::Error as ImapError;
use futures_util::{Stream, StreamExt};
use std::future::Future;
use std::time::Duration;

/// Why an IMAP operation did not complete.
pub enum Fail {
    Timeout(Duration),
    Imap(ImapError),
}

/// One command under the per-operation timeout (async-imap has none of its own).
pub async fn op<T>(limit: Duration, fut: impl Future<Output = async_imap::error::Result<T>>) -> Result<T, Fail> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(Fail::Imap(e)),
        Err(_) => Err(Fail::Timeout(limit)),
    }
}

/// Reads a response stream to its end (required before the next command), each item bounded.
pub async fn drain<T>(
    limit: Duration,
    stream: impl Stream<Item = async_imap::error::Result<T>>,
    mut each: impl FnMut(T),
) -> Result<(), Fail> {
    let mut stream = std::pin::pin!(stream);
    loop {
        match tokio::time::timeout(limit, stream.next()).await {
            Err(_) => return Err(Fail::Timeout(limit)),
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => return Err(Fail::Imap(e)),
            Ok(Some(Ok(item))) => each(item),
        }
    }
}

/// A command's stream, started and drained under the timeout.
pub async fn run_drained<S, T>(
    limit: Duration,
    start: impl Future<Output = async_imap::error::Result<S>>,
    each: impl FnMut(T),
) -> Result<(), Fail>
where
    S: Stream<Item = async_imap::error::Result<T>>,
{
    let stream = op(limit, start).await?;
    drain(limit, stream, each).await
}

pub fn to_error(stage: Stage, server: &str, fail: Fail) -> FetchError {
    match fail {
        Fail::Timeout(limit) => FetchError::timeout(stage, server, limit),
        Fail::Imap(e) => {
            let (kind, words) = words(&e);
            FetchError::new(stage, kind, server, words)
        }
    }
}

/// The server's own words from an async-imap error. async-imap renders NO/BAD as
/// `code: Some(TryCreate), info: Some("…")`; this turns that back into `[TRYCREATE] …`.
pub fn words(e: &ImapError) -> (ErrorKind, String) {
    match e {
        ImapError::No(s) | ImapError::Bad(s) => (ErrorKind::Rejected, tidy(s)),
        ImapError::Io(io) => (io_kind(io), io.to_string()),
        ImapError::ConnectionLost => (ErrorKind::Closed, "the server closed the connection".into()),
        ImapError::Validate(v) => (ErrorKind::Local, format!("cannot be sent to the server: {v}")),
        other => (ErrorKind::Protocol, format!("unreadable answer from the server: {other}")),
    }
}

/// True for a NO carrying `[TRYCREATE]`: the target folder does not exist yet.
pub fn is_trycreate(fail: &Fail) -> bool {
    matches!(fail, Fail::Imap(ImapError::No(s)) if s.contains("TryCreate") || s.contains("TRYCREATE"))
}

fn tidy(s: &str) -> String {
    // Two renderings occur: `code: …, info: Some("…")` and `outcome: Outcome { code: …,
    // information: Some("…") }`.
    let info = ["information: Some(\"", "info: Some(\""].iter().find_map(|k| {
        let start = s.find(k)? + k.len();
        let end = s.rfind("\")")?;
        (end >= start).then(|| s[start..end].replace("\\\"", "\"").replace("\\\\", "\\"))
    });
    // Simple codes (TryCreate, ReadOnly…) are worth showing; structured ones are noise.
    let code = s.find("code: Some(").and_then(|i| {
        let rest = &s[i + "code: Some(".len()..];
        let name: String = rest.chars().take_while(char::is_ascii_alphanumeric).collect();
        rest[name.len()..].starts_with(')').then(|| format!("[{}] ", name.to_ascii_uppercase()))
    });
    match (code, info) {
        (None, None) => s.to_string(),
        (code, info) => {
            let text = format!("{}{}", code.unwrap_or_default(), info.unwrap_or_default()).trim().to_string();
            if text.is_empty() { "the server refused without saying why".into() } else { text }
        }
    }
}

/// `1:3,7,9:10` for sorted, distinct UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn server_words_come_back_as_sent() {
        let e = ImapError::No(r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#.into());
        assert_eq!(words(&e).1, "[AUTHENTICATIONFAILED] Authentication failed.");
        let e = ImapError::No(r#"code: Some(TryCreate), info: Some("Mailbox doesn't exist: \"X\"")"#.into());
        assert_eq!(words(&e).1, r#"[TRYCREATE] Mailbox doesn't exist: "X""#);
        assert!(is_trycreate(&Fail::Imap(e)));
        let e = ImapError::No(
            r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: Nope (0.001 + 0.000 secs).") }"#
                .into(),
        );
        assert_eq!(words(&e).1, "Mailbox doesn't exist: Nope (0.001 + 0.000 secs).");
    }
}
