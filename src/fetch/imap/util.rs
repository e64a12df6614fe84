//! Small pieces under the IMAP session: bounded commands read to their tagged completion,
//! the server's own words, UID sets and quoting.
//!
//! Takes an async-imap session and a command; gives each untagged response to the caller
//! and the command's outcome. async-imap's FETCH/STORE/SEARCH/EXPUNGE streams end quietly
//! on a tagged NO/BAD and on a closed connection (an empty result would look like "no
//! messages"), so commands after login are run here instead, where both are errors. It
//! never reports success for a command whose tagged OK it has not read.

use crate::fetch::error::{DETAIL_MAX, ErrorKind, FetchError, Stage, clip};
use crate::fetch::net::{Conn, io_kind};
use async_imap::Session;
use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{Outcome, Response, Status};
use std::future::Future;
use std::time::Duration;

/// Why an IMAP operation did not complete.
pub enum Fail {
    Timeout(Duration),
    Imap(ImapError),
    /// A tagged NO or BAD, with the server's words.
    Refused(String),
}

/// One async-imap call under the per-operation timeout (async-imap has none of its own).
pub async fn op<T>(limit: Duration, fut: impl Future<Output = async_imap::error::Result<T>>) -> Result<T, Fail> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(Fail::Imap(e)),
        Err(_) => Err(Fail::Timeout(limit)),
    }
}

/// Sends `command` and reads every response up to its own tagged completion, each read
/// bounded; untagged responses go to `each`. A NO/BAD completion is [`Fail::Refused`], a
/// connection that ends first is an error, never an empty success.
pub async fn command(
    session: &mut Session<Conn>,
    limit: Duration,
    command: &str,
    mut each: impl FnMut(&Response<'_>),
) -> Result<(), Fail> {
    let tag = op(limit, session.run_command(command)).await?;
    loop {
        let resp = match tokio::time::timeout(limit, session.read_response()).await {
            Err(_) => return Err(Fail::Timeout(limit)),
            Ok(Err(e)) => return Err(Fail::Imap(ImapError::Io(e))),
            Ok(Ok(None)) => return Err(Fail::Imap(ImapError::ConnectionLost)),
            Ok(Ok(Some(r))) => r,
        };
        match resp.parsed() {
            Response::Done { tag: t, status, outcome } if *t == tag => {
                return match status {
                    Status::Ok => Ok(()),
                    _ => Err(Fail::Refused(outcome_words(outcome))),
                };
            }
            other => each(other),
        }
    }
}

/// A command refused with `[EXPUNGEISSUED]` (RFC 5530) still did its work on every message
/// that exists: another client removed the rest meanwhile (a FETCH caller sees them missing).
pub fn partial_ok(r: Result<(), Fail>) -> Result<(), Fail> {
    match r {
        Err(Fail::Refused(words)) if words.starts_with("[EXPUNGEISSUED]") => Ok(()),
        r => r,
    }
}

/// `[CODE] text` as the server sent it (known codes are parsed out by imap-proto).
fn outcome_words(outcome: &Outcome<'_>) -> String {
    let code = outcome
        .code
        .as_ref()
        .map(|c| format!("{c:?}"))
        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric()))
        .map(|c| format!("[{}] ", c.to_ascii_uppercase()))
        .unwrap_or_default();
    let text = format!("{code}{}", outcome.information.as_deref().unwrap_or("")).trim().to_string();
    if text.is_empty() { "the server refused without saying why".into() } else { text }
}

/// A mailbox name from config (UTF-8) as an IMAP quoted string, in modified UTF-7 as the
/// server wants it (config validation keeps CR/LF out).
pub fn quote(name: &str) -> String {
    let name = super::utf7::encode(name);
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn to_error(stage: Stage, server: &str, fail: Fail) -> FetchError {
    match fail {
        Fail::Timeout(limit) => FetchError::timeout(stage, server, limit),
        Fail::Imap(e) => {
            let (kind, words) = words(&e);
            FetchError::new(stage, kind, server, words)
        }
        Fail::Refused(words) => FetchError::new(stage, ErrorKind::Rejected, server, clip(&words, DETAIL_MAX)),
    }
}

/// The server's own words from an async-imap error (LOGIN, STARTTLS), at most
/// [`DETAIL_MAX`] characters of them. It renders NO/BAD as `code: Some(TryCreate), info:
/// Some("…")`; this turns that back into `[TRYCREATE] …`.
pub fn words(e: &ImapError) -> (ErrorKind, String) {
    match e {
        ImapError::No(s) | ImapError::Bad(s) => (ErrorKind::Rejected, clip(&tidy(s), DETAIL_MAX)),
        ImapError::Io(io) => {
            let text = io.to_string();
            match unparsable(&text) {
                Some(start) => (ErrorKind::Protocol, format!("the server's answer is not valid IMAP: {start}")),
                None => (io_kind(io), clip(&text, DETAIL_MAX)),
            }
        }
        ImapError::ConnectionLost => (ErrorKind::Closed, "the server closed the connection".into()),
        ImapError::Validate(v) => (ErrorKind::Local, clip(&format!("cannot be sent to the server: {v}"), DETAIL_MAX)),
        other => (ErrorKind::Protocol, clip(&format!("unreadable answer from the server: {other}"), DETAIL_MAX)),
    }
}

/// async-imap reports a response imap-proto cannot parse as an I/O error reading `{nom
/// error:?} during parsing of {buffer:?}`: the whole unparsed buffer twice, first as decimal
/// bytes inside nom's error, then as text; hundreds of KB when a body is in it. Gives the
/// start of the text only, or None for any other I/O error.
fn unparsable(text: &str) -> Option<String> {
    let (_, buffer) = text.split_once(" during parsing of ")?;
    Some(clip(buffer, DETAIL_MAX))
}

/// True for a NO carrying `[TRYCREATE]`: the target folder does not exist yet.
pub fn is_trycreate(fail: &Fail) -> bool {
    matches!(fail, Fail::Refused(s) if s.starts_with("[TRYCREATE]"))
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
    uid_sets(uids, usize::MAX, usize::MAX).pop().unwrap_or_default()
}

/// Sorted, distinct UIDs as compressed sets (`1:3,7,9:10`) of at most `max_uids` UIDs and
/// `max_chars` characters each. Servers pay per command (Dovecot rereads a large folder on
/// every expunge), so a run of UIDs should be one command however long; the length cap
/// keeps a scattered set under the line limits servers enforce (RFC 7162 §4: 8,192 octets).
pub fn uid_sets(uids: &[u32], max_uids: usize, max_chars: usize) -> Vec<String> {
    let mut out = Vec::new();
    let (mut set, mut count) = (String::new(), 0usize);
    let mut i = 0;
    while i < uids.len() {
        if count >= max_uids {
            out.push(std::mem::take(&mut set));
            count = 0;
        }
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len()
            && uids[i + 1] == end.wrapping_add(1)
            && count + ((end - start) as usize + 1) < max_uids
        {
            i += 1;
            end = uids[i];
        }
        let range = if start == end { start.to_string() } else { format!("{start}:{end}") };
        if !set.is_empty() && set.len() + 1 + range.len() > max_chars {
            out.push(std::mem::take(&mut set));
            count = 0;
        }
        if !set.is_empty() {
            set.push(',');
        }
        set.push_str(&range);
        count += (end - start) as usize + 1;
        i += 1;
    }
    if !set.is_empty() {
        out.push(set);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(quote("Bounces.Rückläufer & Co"), r#""Bounces.R&APw-ckl&AOQ-ufer &- Co""#);
    }

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn uid_sets_respect_both_caps() {
        let run: Vec<u32> = (1..=10_000).collect();
        assert_eq!(uid_sets(&run, usize::MAX, 20), vec!["1:10000"]);
        assert_eq!(uid_sets(&run, 4000, 8192), vec!["1:4000", "4001:8000", "8001:10000"]);
        let scattered: Vec<u32> = (1..=3000).map(|u| u * 2).collect();
        let sets = uid_sets(&scattered, usize::MAX, 100);
        assert!(sets.iter().all(|s| s.len() <= 100), "{sets:?}");
        let back: Vec<u32> = sets.iter().flat_map(|s| s.split(',')).map(|u| u.parse().unwrap_or(0)).collect();
        assert_eq!(back, scattered);
        assert_eq!(uid_sets(&[1, 2, 3, 7, 9, 10], 2, 100), vec!["1:2", "3,7", "9:10"]);
    }

    #[test]
    fn server_words_come_back_as_sent() {
        let e = ImapError::No(r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#.into());
        assert_eq!(words(&e).1, "[AUTHENTICATIONFAILED] Authentication failed.");
        let e = ImapError::No(r#"code: Some(TryCreate), info: Some("Mailbox doesn't exist: \"X\"")"#.into());
        assert_eq!(words(&e).1, r#"[TRYCREATE] Mailbox doesn't exist: "X""#);
        assert!(is_trycreate(&Fail::Refused("[TRYCREATE] Mailbox doesn't exist: X".into())));
        let e = ImapError::No(
            r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: Nope (0.001 + 0.000 secs).") }"#
                .into(),
        );
        assert_eq!(words(&e).1, "Mailbox doesn't exist: Nope (0.001 + 0.000 secs).");
    }

    #[test]
    fn an_unparsable_answer_is_named_and_cut_without_the_byte_dump() {
        let buffer = format!("* 1 FETCH (BODY[] \"{}\u{1}\r\n", "mail text ".repeat(30_000));
        let dump = format!("Error(Error {{ input: {:?}, code: TakeWhile1 }})", buffer.as_bytes());
        let e = ImapError::Io(std::io::Error::other(format!("{dump} during parsing of {buffer:?}")));
        let (kind, text) = words(&e);
        assert_eq!(kind, ErrorKind::Protocol);
        assert!(text.starts_with("the server's answer is not valid IMAP: \"* 1 FETCH (BODY[] "), "{text}");
        assert!(text.len() < 400 && text.ends_with("bytes omitted)") && !text.contains("42, 32"), "{text}");
    }
}
