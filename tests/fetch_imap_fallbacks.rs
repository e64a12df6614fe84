//! IMAP servers without MOVE or UIDPLUS (Dovecot has both, so a scripted fake stands in):
//! move falls back to COPY + \Deleted + EXPUNGE, and delete uses a plain EXPUNGE.

mod support;

use rebound::config::{AfterProcessing, Protocol, Secret};
use rebound::fetch::Source;
use support::fake::{self, mailbox};

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
    let mut src = Source::open(&cfg, &Secret::new("p")).await.unwrap();
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
async fn delete_without_uidplus_uses_expunge_and_only_flags_committed_uids() {
    let server = fake::serve("* OK fake ready\r\n", basic_imap).await;
    let mut cfg = mailbox(Protocol::Imap, server.port);
    cfg.after_processing = AfterProcessing::Delete;
    let mut src = Source::open(&cfg, &Secret::new("p")).await.unwrap();
    let refs = src.list().await.unwrap();
    src.mark_done(&[refs[0].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    let cmds = server.commands();
    assert_eq!(cmds.iter().filter(|c| c.contains("STORE")).count(), 1, "{cmds:?}");
    assert!(in_order(&cmds, &["UID STORE 3 +FLAGS.SILENT (\\Deleted)", "EXPUNGE", "LOGOUT"]), "{cmds:?}");
    assert!(!cmds.iter().any(|c| c.contains("UID EXPUNGE")), "{cmds:?}");
}
