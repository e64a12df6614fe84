//! POP3 against the real test Dovecot: plain port, STLS and POP3S; listing, byte-exact RETR
//! (dot-stuffing undone), DELE of committed messages only and only at QUIT, size cap.

use crate::support;
use crate::support::{Dovecot, MailUser, lf, sample_message};
use rebound::config::{AfterProcessing, MailboxConfig, Protocol, Security};
use rebound::fetch::{Session, SourceId};

fn pop3(d: &Dovecot, user: &MailUser, security: Security) -> MailboxConfig {
    let port = match security {
        Security::Ssl => d.pop3s_port,
        Security::Starttls => d.pop3_port,
        Security::None => d.plain_pop3_port,
    };
    d.mailbox(user, Protocol::Pop3, security, port)
}

/// Lines that POP3 must dot-stuff on the wire: they must come back exactly.
const DOTTY: &str = ".leading dot\r\n..two dots\r\n.\r\n. dot space\r\nlast line";

fn deliver(user: &MailUser) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    for i in 0..4 {
        let body = if i == 2 { DOTTY.to_string() } else { format!("Delivery to user{i}@example.org failed.") };
        let m = sample_message(&format!("{}-{i}", user.name), &body);
        user.deliver("INBOX", &m);
        sent.push(m);
    }
    sent
}

async fn roundtrip(security: Security) {
    let d = Dovecot::get();
    let user = d.add_user();
    let sent = deliver(&user);
    let mut cfg = pop3(&d, &user, security);
    cfg.after_processing = AfterProcessing::Delete;

    let mut src = Session::open(&cfg, &user.secret()).await.unwrap_or_else(|e| panic!("{e}: {}", e.hint()));
    let refs = src.list().await.unwrap();
    assert_eq!(refs.len(), 4);
    assert!(refs.iter().all(|r| matches!(&r.id, SourceId::Pop3 { uidl } if !uidl.is_empty())));
    let mut got = Vec::new();
    for chunk in refs.chunks(3) {
        let batch = src.fetch(chunk).await.unwrap();
        assert!(batch.skipped.is_empty(), "{:?}", batch.skipped);
        got.extend(batch.fetched);
    }
    for (f, want) in got.iter().zip(&sent) {
        assert_eq!(String::from_utf8_lossy(&lf(&f.raw)), String::from_utf8_lossy(&lf(want)), "{}", f.id);
    }
    assert!(String::from_utf8_lossy(&got[2].raw).contains("\r\n.leading dot\r\n..two dots\r\n.\r\n. dot space\r\n"));

    src.mark_done(&[refs[0].id.clone(), refs[2].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    assert_eq!(user.count("INBOX"), 2);
    assert_eq!(user.subjects("INBOX"), vec![format!("{}-1", user.name), format!("{}-3", user.name)]);

    cfg.after_processing = AfterProcessing::Keep;
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let ids: Vec<SourceId> = src.list().await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![refs[1].id.clone(), refs[3].id.clone()], "UIDLs are stable across sessions");
    src.mark_done(&ids).await.unwrap();
    src.close().await.unwrap();
    assert_eq!(user.count("INBOX"), 2);
}

#[tokio::test]
async fn pop3_plain_port_roundtrip() {
    roundtrip(Security::None).await;
}

#[tokio::test]
async fn pop3_stls_roundtrip() {
    roundtrip(Security::Starttls).await;
}

#[tokio::test]
async fn pop3s_roundtrip() {
    roundtrip(Security::Ssl).await;
}

#[tokio::test]
async fn deletions_need_a_clean_quit() {
    let d = Dovecot::get();
    let user = d.add_user();
    deliver(&user);
    let mut cfg = pop3(&d, &user, Security::Ssl);
    cfg.after_processing = AfterProcessing::Delete;
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    assert!(!src.can_idle());
    let refs = src.list().await.unwrap();
    src.mark_done(&[refs[0].id.clone()]).await.unwrap();
    drop(src); // connection gone without QUIT: the server must not apply the DELE
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(user.count("INBOX"), 4);
}

#[tokio::test]
async fn oversized_message_gives_its_headers_by_top_not_retr() {
    let d = Dovecot::get();
    let user = d.add_user();
    let mut src = support::fetch_small_and_oversized(&user, pop3(&d, &user, Security::Starttls), 'y').await;
    // The session is still in step after TOP.
    assert_eq!(src.list().await.unwrap().len(), 2);
    src.close().await.unwrap();
}
