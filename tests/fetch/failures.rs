//! Servers that drop the connection: tiny scripted fakes that answer like Dovecot up to a
//! point and then close. The client must return a clean FetchError, never hang or panic.

use crate::support::fake::{self, mailbox};
use rebound::config::{Protocol, Secret};
use rebound::fetch::{ErrorKind, Session, Stage};
use std::time::{Duration, Instant};

async fn fake(greeting: &'static str, answer: fn(&str) -> Option<String>) -> u16 {
    fake::serve(greeting, answer).await.port
}

fn pop3_answer(line: &str) -> Option<String> {
    let cmd = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    Some(match cmd.as_str() {
        "CAPA" => "+OK\r\nUIDL\r\nUSER\r\n.\r\n".into(),
        "USER" | "PASS" => "+OK\r\n".into(),
        "LIST" => "+OK\r\n1 120\r\n.\r\n".into(),
        "UIDL" => "+OK\r\n1 abc\r\n.\r\n".into(),
        // Half a message, then the connection drops.
        "RETR" => "+OK 120 octets\r\nFrom: someone\r\nSubject: cutCLOSE".into(),
        _ => "-ERR unknown\r\n".into(),
    })
}

#[tokio::test]
async fn pop3_connection_dropped_during_retr() {
    let port = fake("+OK fake ready\r\n", pop3_answer).await;
    let cfg = mailbox(Protocol::Pop3, port);
    let started = Instant::now();
    let mut src = Session::open(&cfg, &Secret::new("p")).await.unwrap();
    let refs = src.list().await.unwrap();
    assert_eq!(refs.len(), 1);
    let e = src.fetch(&refs).await.unwrap_err();
    assert_eq!((e.stage, e.kind), (Stage::Fetch, ErrorKind::Closed), "{e}");
    assert!(e.breaks_session());
    // The session knows it is gone and says so at once.
    let again = src.fetch(&refs).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::Local, "{again}");
    assert!(src.close().await.is_ok());
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Like [`imap_answer`], but refuses FETCH of bodies with a tagged NO.
fn imap_refusing(line: &str) -> Option<String> {
    let (tag, rest) = line.split_once(' ')?;
    if rest.to_ascii_uppercase().contains("BODY.PEEK[]") {
        return Some(format!("{tag} NO [SERVERBUG] Internal error occurred\r\n"));
    }
    imap_answer(line)
}

fn imap_answer(line: &str) -> Option<String> {
    let (tag, rest) = line.split_once(' ')?;
    let rest = rest.to_ascii_uppercase();
    Some(if rest.starts_with("LOGIN") {
        format!("{tag} OK logged in\r\n")
    } else if rest.starts_with("CAPABILITY") {
        format!("* CAPABILITY IMAP4rev1 UIDPLUS\r\n{tag} OK done\r\n")
    } else if rest.starts_with("SELECT") {
        format!("* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] selected\r\n")
    } else if rest.starts_with("UID SEARCH") {
        format!("* SEARCH 1\r\n{tag} OK done\r\n")
    } else if rest.contains("RFC822.SIZE") {
        format!("* 1 FETCH (UID 1 RFC822.SIZE 100)\r\n{tag} OK done\r\n")
    } else if rest.contains("BODY.PEEK[]") && rest.starts_with("UID FETCH 1 ") {
        "* 1 FETCH (UID 1 BODY[] {100}\r\nFrom: someone\r\nCLOSE".into()
    } else if rest.contains("BODY.PEEK[]") {
        return None;
    } else {
        format!("{tag} BAD unknown\r\n")
    })
}

#[tokio::test]
async fn imap_connection_dropped_during_body_fetch() {
    let port = fake("* OK [CAPABILITY IMAP4rev1] fake ready\r\n", imap_answer).await;
    let cfg = mailbox(Protocol::Imap, port);
    let started = Instant::now();
    let mut src = Session::open(&cfg, &Secret::new("p")).await.unwrap();
    let refs = src.list().await.unwrap();
    assert_eq!(refs.len(), 1);
    let e = src.fetch(&refs).await.unwrap_err();
    assert_eq!(e.stage, Stage::Fetch, "{e}");
    assert!(e.breaks_session(), "{e:?}");
    let again = src.fetch(&refs).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::Local, "{again}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn imap_tagged_no_on_fetch_is_an_error_not_an_empty_result() {
    let port = fake("* OK fake ready\r\n", imap_refusing).await;
    let mut src = Session::open(&mailbox(Protocol::Imap, port), &Secret::new("p")).await.unwrap();
    let refs = src.list().await.unwrap();
    let e = src.fetch(&refs).await.unwrap_err();
    assert_eq!((e.stage, e.kind), (Stage::Fetch, ErrorKind::Rejected), "{e}");
    assert_eq!(e.detail, "[SERVERBUG] Internal error occurred");
    assert!(!e.breaks_session());
    // Still in step: the next command works.
    assert_eq!(src.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn greeting_then_close_fails_cleanly_for_both_protocols() {
    for (protocol, greeting) in [(Protocol::Imap, "* OK fake\r\n"), (Protocol::Pop3, "+OK fake\r\n")] {
        let port = fake(greeting, |_| None).await;
        let e = match Session::open(&mailbox(protocol, port), &Secret::new("p")).await {
            Ok(_) => panic!("{protocol}: open succeeded against a server that hung up"),
            Err(e) => e,
        };
        assert!(matches!(e.stage, Stage::Capabilities | Stage::Login), "{protocol}: {e}");
        assert!(matches!(e.kind, ErrorKind::Closed | ErrorKind::Network), "{protocol}: {e:?}");
    }
}

#[tokio::test]
async fn a_server_speaking_the_wrong_protocol_fails_at_greeting() {
    let port = fake("+OK I am POP3\r\n", |_| None).await;
    let e = match Session::open(&mailbox(Protocol::Imap, port), &Secret::new("p")).await {
        Ok(_) => panic!("IMAP client accepted a POP3 greeting"),
        Err(e) => e,
    };
    assert_eq!(e.stage, Stage::Greeting, "{e}");
    assert!(e.hint().contains("protocol"), "{}", e.hint());
}
