//! What the test Dovecot does not do, played by scripted servers: IMAP without MOVE or
//! UIDPLUS (move falls back to COPY + \Deleted + EXPUNGE, delete to a plain EXPUNGE), a
//! FETCH partly refused with [EXPUNGEISSUED], POP3 with APOP offered in the greeting and
//! no CAPA, and POP3 headers past the cap or without TOP.

use crate::support::fake::{self, mailbox};
use rebound::config::{AfterProcessing, Protocol, Secret};
use rebound::fetch::{HEADER_CAP, Session, SkipReason};

/// An IMAP4rev1 server with neither MOVE nor UIDPLUS, holding UIDs 3 and 4.
fn basic_imap(line: &str) -> Option<String> {
    let (tag, rest) = line.split_once(' ')?;
    let upper = rest.to_ascii_uppercase();
    let data = if upper.starts_with("CAPABILITY") {
        "* CAPABILITY IMAP4rev1 IDLE\r\n"
    } else if upper.starts_with("SELECT") {
        "* 2 EXISTS\r\n* OK [UIDVALIDITY 9] ok\r\n"
    } else if upper.starts_with("UID SEARCH") {
        "* SEARCH 3 4\r\n"
    } else if upper.contains("RFC822.SIZE") {
        "* 1 FETCH (UID 3 RFC822.SIZE 10)\r\n* 2 FETCH (UID 4 RFC822.SIZE 10)\r\n"
    } else if upper.contains("BODY.PEEK[]") {
        // UID 4 was expunged by another client meanwhile (RFC 5530).
        return Some(format!(
            "* 1 FETCH (UID 3 BODY[] {{10}}\r\nSubject: 3)\r\n{tag} NO [EXPUNGEISSUED] Some messages were expunged\r\n"
        ));
    } else if upper.starts_with("UID MOVE") || upper.starts_with("UID EXPUNGE") {
        return Some(format!("{tag} BAD unknown command\r\n"));
    } else {
        ""
    };
    Some(format!("{data}{tag} OK done\r\n"))
}

/// True when the commands (tags aside) include `want` in this order.
fn in_order(commands: &[String], want: &[&str]) -> bool {
    let mut rest = commands.iter().filter_map(|c| c.split_once(' ')).map(|(_, c)| c);
    want.iter().all(|w| rest.any(|c| c == *w))
}

#[tokio::test]
async fn move_without_move_copies_then_deletes_with_plain_expunge() {
    let server = fake::serve("* OK fake ready\r\n", basic_imap).await;
    let mut cfg = mailbox(Protocol::Imap, server.port);
    cfg.after_processing = AfterProcessing::Move("Done".into());
    let mut src = Session::open(&cfg, &Secret::new("p")).await.unwrap();
    let refs = src.list().await.unwrap();
    assert_eq!(refs.len(), 2);
    src.mark_done(&[refs[1].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    let cmds = server.commands();
    assert!(!cmds.iter().any(|c| c.contains("UID MOVE")), "{cmds:?}");
    let want = ["UID COPY 4 \"Done\"", "UID STORE 4 +FLAGS.SILENT (\\Deleted)", "EXPUNGE", "LOGOUT"];
    assert!(in_order(&cmds, &want), "{cmds:?}");
}

#[tokio::test]
async fn a_fetch_refused_with_expungeissued_keeps_what_arrived() {
    let server = fake::serve("* OK fake ready\r\n", basic_imap).await;
    let mut src = Session::open(&mailbox(Protocol::Imap, server.port), &Secret::new("p")).await.unwrap();
    let refs = src.list().await.unwrap();
    let batch = src.fetch(&refs).await.unwrap();
    assert_eq!(batch.fetched.len(), 1);
    assert_eq!(batch.fetched[0].raw, b"Subject: 3");
    assert_eq!(batch.skipped.len(), 1);
    assert_eq!(batch.skipped[0].id, refs[1].id);
    src.close().await.unwrap();
}

#[tokio::test]
async fn delete_without_uidplus_uses_expunge_and_only_flags_committed_uids() {
    let server = fake::serve("* OK fake ready\r\n", basic_imap).await;
    let mut cfg = mailbox(Protocol::Imap, server.port);
    cfg.after_processing = AfterProcessing::Delete;
    let mut src = Session::open(&cfg, &Secret::new("p")).await.unwrap();
    let refs = src.list().await.unwrap();
    src.mark_done(&[refs[0].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    let cmds = server.commands();
    assert_eq!(cmds.iter().filter(|c| c.contains("STORE")).count(), 1, "{cmds:?}");
    assert!(in_order(&cmds, &["UID STORE 3 +FLAGS.SILENT (\\Deleted)", "EXPUNGE", "LOGOUT"]), "{cmds:?}");
    assert!(!cmds.iter().any(|c| c.contains("UID EXPUNGE")), "{cmds:?}");
}

fn apop_server(line: &str) -> Option<String> {
    let cmd = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    Some(match cmd.as_str() {
        // No CAPA at all (it is optional): the client must carry on.
        "CAPA" => "-ERR unknown command\r\n".into(),
        "APOP" if line.ends_with(&apop_digest()) => "+OK maildrop locked\r\n".into(),
        "APOP" => "-ERR [AUTH] bad digest\r\n".into(),
        "LIST" | "UIDL" => "+OK\r\n.\r\n".into(),
        _ => "+OK\r\n".into(),
    })
}

/// RFC 1939 §7: MD5 of the greeting's timestamp followed by the secret, in hex.
fn apop_digest() -> String {
    use md5::{Digest, Md5};
    Md5::digest(b"<1896.697170952@fake>tanstaaf").iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn pop3_uses_apop_when_the_greeting_offers_it() {
    let server = fake::serve("+OK fake <1896.697170952@fake>\r\n", apop_server).await;
    let mut src = Session::open(&mailbox(Protocol::Pop3, server.port), &Secret::new("tanstaaf")).await.unwrap();
    assert!(src.list().await.unwrap().is_empty());
    src.close().await.unwrap();
    let cmds = server.commands();
    assert_eq!(cmds[1], format!("APOP u {}", apop_digest()), "{cmds:?}");
    assert!(!cmds.iter().any(|c| c.starts_with("PASS")), "the password must not be sent when APOP works: {cmds:?}");

    // A server that refuses the digest still gets USER/PASS.
    let server = fake::serve("+OK fake <1896.697170952@fake>\r\n", apop_server).await;
    let src = Session::open(&mailbox(Protocol::Pop3, server.port), &Secret::new("other")).await.unwrap();
    src.close().await.unwrap();
    let cmds = server.commands();
    assert!(cmds.iter().any(|c| c == "USER u") && cmds.iter().any(|c| c == "PASS other"), "{cmds:?}");
}

/// A maildrop of one 2,000,000-byte message whose "headers" run past the cap, with dot-stuffed
/// lines; TOP is offered only when `top`.
fn big_message_pop3(line: &str, top: bool) -> Option<String> {
    let cmd = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    Some(match cmd.as_str() {
        "CAPA" if top => "+OK\r\nUIDL\r\nTOP\r\n.\r\n".into(),
        "CAPA" => "+OK\r\nUIDL\r\n.\r\n".into(),
        "LIST" => "+OK\r\n1 2000000\r\n.\r\n".into(),
        "UIDL" => "+OK\r\n1 big-1\r\n.\r\n".into(),
        "TOP" if line == "TOP 1 0" => {
            format!("+OK\r\nSubject: big\r\n..dotted: yes\r\nX-Long: {}\r\n\r\n.\r\n", "y".repeat(300_000))
        }
        "TOP" | "RETR" => "-ERR not expected\r\n".into(),
        _ => "+OK\r\n".into(),
    })
}

/// Logs in to a fake POP3 server and fetches everything it lists.
async fn fetch_all(server: &fake::Fake) -> (Session, rebound::fetch::Batch) {
    let mut src = Session::open(&mailbox(Protocol::Pop3, server.port), &Secret::new("pw")).await.unwrap();
    let refs = src.list().await.unwrap();
    let batch = src.fetch(&refs).await.unwrap();
    (src, batch)
}

#[tokio::test]
async fn pop3_top_reads_capped_unstuffed_headers_of_an_oversized_message() {
    let server = fake::serve("+OK fake\r\n", |l| big_message_pop3(l, true)).await;
    let (mut src, batch) = fetch_all(&server).await;
    let SkipReason::TooLarge { size: 2_000_000, headers: Some(h), .. } = &batch.skipped[0].reason else {
        panic!("{:?}", batch.skipped)
    };
    assert_eq!(h.len(), HEADER_CAP);
    assert!(h.starts_with(b"Subject: big\r\n.dotted: yes\r\nX-Long: yyy"), "{:?}", String::from_utf8_lossy(&h[..40]));
    // The rest of the answer was read and dropped: the session is still in step.
    assert_eq!(src.list().await.unwrap().len(), 1);
    src.close().await.unwrap();
    assert!(!server.commands().iter().any(|c| c.starts_with("RETR")), "{:?}", server.commands());
}

#[tokio::test]
async fn pop3_without_top_reads_nothing_of_an_oversized_message_and_says_why() {
    let server = fake::serve("+OK fake\r\n", |l| big_message_pop3(l, false)).await;
    let (src, batch) = fetch_all(&server).await;
    let reason = &batch.skipped[0].reason;
    assert!(matches!(reason, SkipReason::TooLarge { headers: None, .. }), "{reason:?}");
    assert!(reason.to_string().contains("does not offer TOP"), "{reason}");
    src.close().await.unwrap();
    let cmds = server.commands();
    assert!(!cmds.iter().any(|c| c.starts_with("RETR") || c.starts_with("TOP")), "{cmds:?}");
}
