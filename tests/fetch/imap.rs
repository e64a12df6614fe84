//! IMAP against the real test Dovecot: plain port, STARTTLS and IMAPS; listing, byte-exact
//! fetch, delete/keep/move/seen of committed messages only, non-ASCII folders, checkpoints,
//! size cap, IDLE.

use crate::support;
use crate::support::{Dovecot, MailUser, lf, sample_message};
use rebound::config::{AfterProcessing, MailboxConfig, Protocol, Security};
use rebound::fetch::{FolderCheckpoint, Session, SourceId};
use std::time::{Duration, Instant};

fn imap(d: &Dovecot, user: &MailUser, security: Security) -> MailboxConfig {
    let port = match security {
        Security::Ssl => d.imaps_port,
        Security::Starttls => d.imap_port,
        Security::None => d.plain_imap_port,
    };
    d.mailbox(user, Protocol::Imap, security, port)
}

fn deliver_n(user: &MailUser, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let m = sample_message(&format!("{}-{i}", user.name), &format!("Delivery to user{i}@example.org failed."));
            user.deliver("INBOX", &m);
            m
        })
        .collect()
}

/// Deliver, list, fetch byte-exact, delete two committed ones, then keep mode changes nothing.
async fn roundtrip(security: Security) {
    let d = Dovecot::get();
    let user = d.add_user();
    let sent = deliver_n(&user, 5);
    let mut cfg = imap(&d, &user, security);
    cfg.after_processing = AfterProcessing::Delete;

    let mut src = Session::open(&cfg, &user.secret()).await.unwrap_or_else(|e| panic!("{e}: {}", e.hint()));
    let refs = src.list().await.unwrap();
    assert_eq!(refs.len(), 5);
    let mut got = Vec::new();
    for chunk in refs.chunks(2) {
        let batch = src.fetch(chunk).await.unwrap();
        assert!(batch.skipped.is_empty(), "{:?}", batch.skipped);
        got.extend(batch.fetched);
    }
    for (f, want) in got.iter().zip(&sent) {
        assert_eq!(lf(&f.raw), lf(want), "{}", f.id);
        assert!(f.raw.ends_with(b"\r\n"));
    }
    assert!(refs.iter().all(|r| r.size > 100), "{refs:?}");
    src.mark_done(&[refs[1].id.clone(), refs[3].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    assert_eq!(user.count("INBOX"), 3);
    let s = |i| format!("{}-{i}", user.name);
    assert_eq!(user.subjects("INBOX"), vec![s(0), s(2), s(4)]);

    cfg.after_processing = AfterProcessing::Keep;
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let refs = src.list().await.unwrap();
    let ids: Vec<SourceId> = refs.iter().map(|r| r.id.clone()).collect();
    src.mark_done(&ids).await.unwrap();
    src.close().await.unwrap();
    assert_eq!(user.count("INBOX"), 3);
}

#[tokio::test]
async fn imap_plain_port_roundtrip() {
    roundtrip(Security::None).await;
}

#[tokio::test]
async fn imap_starttls_roundtrip() {
    roundtrip(Security::Starttls).await;
}

#[tokio::test]
async fn imaps_roundtrip() {
    roundtrip(Security::Ssl).await;
}

#[tokio::test]
async fn move_creates_the_target_and_moves_only_committed_messages() {
    let d = Dovecot::get();
    let user = d.add_user();
    deliver_n(&user, 3);
    let mut cfg = imap(&d, &user, Security::Ssl);
    cfg.after_processing = AfterProcessing::Move("Processed".into());
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let refs = src.list().await.unwrap();
    src.mark_done(&[refs[0].id.clone(), refs[2].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    assert_eq!(user.count("INBOX"), 1);
    assert_eq!(user.count("Processed"), 2);
    assert_eq!(user.subjects("INBOX"), vec![format!("{}-1", user.name)]);
}

/// A non-ASCII folder (sent in modified UTF-7) is created on TRYCREATE, moved into, then
/// selected and fetched from; ids keep the name as configured.
#[tokio::test]
async fn non_ascii_folder_is_created_moved_into_and_polled() {
    let d = Dovecot::get();
    let user = d.add_user();
    let sent = deliver_n(&user, 2);
    // Dovecot's Maildir++ hierarchy separator is '.'.
    let target = "Bounces.Rückläufer & Co";
    let mut cfg = imap(&d, &user, Security::Ssl);
    cfg.after_processing = AfterProcessing::Move(target.into());
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let refs = src.list().await.unwrap();
    src.mark_done(&[refs[1].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    assert_eq!((user.count("INBOX"), user.count(target)), (1, 1));

    let cfg = MailboxConfig {
        folders: vec![target.into()],
        after_processing: AfterProcessing::Keep,
        ..imap(&d, &user, Security::Starttls)
    };
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let refs = src.list().await.unwrap();
    assert!(matches!(&refs[..], [r] if matches!(&r.id, SourceId::Imap { folder, .. } if folder == target)), "{refs:?}");
    let batch = src.fetch(&refs).await.unwrap();
    assert_eq!(lf(&batch.fetched[0].raw), lf(&sent[1]));
    src.close().await.unwrap();
}

#[tokio::test]
async fn fetch_leaves_seen_alone_and_seen_mode_sets_it() {
    let d = Dovecot::get();
    let user = d.add_user();
    deliver_n(&user, 2);
    let mut cfg = imap(&d, &user, Security::Ssl);
    cfg.after_processing = AfterProcessing::Seen;
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let refs = src.list().await.unwrap();
    src.fetch(&refs).await.unwrap();
    assert_eq!(user.seen("INBOX"), 0, "BODY.PEEK[] must not set \\Seen");
    src.mark_done(&[refs[1].id.clone()]).await.unwrap();
    src.close().await.unwrap();
    assert_eq!(user.seen("INBOX"), 1);
    assert_eq!(user.count("INBOX"), 2);
}

#[tokio::test]
async fn checkpoint_lists_only_newer_uids_unless_uidvalidity_changed() {
    let d = Dovecot::get();
    let user = d.add_user();
    deliver_n(&user, 3);
    let cfg = imap(&d, &user, Security::Starttls);
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let all = src.list().await.unwrap();
    let SourceId::Imap { uidvalidity, uid, .. } = all[1].id.clone() else { panic!("not imap: {:?}", all[1]) };
    let cp = FolderCheckpoint { folder: "INBOX".into(), uidvalidity, last_uid: uid };
    assert_eq!(src.list_since(std::slice::from_ref(&cp)).await.unwrap(), all[2..].to_vec());
    let last = FolderCheckpoint { last_uid: u32::MAX - 1, ..cp.clone() };
    assert!(src.list_since(&[last]).await.unwrap().is_empty(), "`UID n:*` must not return the last UID again");
    let other = FolderCheckpoint { uidvalidity: uidvalidity.wrapping_add(1), ..cp };
    assert_eq!(src.list_since(&[other]).await.unwrap(), all);
    src.close().await.unwrap();
}

#[tokio::test]
async fn oversized_message_gives_its_headers_not_its_body() {
    let d = Dovecot::get();
    let user = d.add_user();
    let src = support::fetch_small_and_oversized(&user, imap(&d, &user, Security::Ssl), 'x').await;
    src.close().await.unwrap();
}

#[tokio::test]
async fn idle_wakes_on_new_mail_and_times_out_without() {
    let d = Dovecot::get();
    let user = d.add_user();
    let cfg = imap(&d, &user, Security::Ssl);
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    assert!(src.can_idle());
    let started = Instant::now();
    assert!(!src.wait_for_mail(Duration::from_secs(1)).await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(5));

    let later = user.clone();
    let delivery = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(500));
        later.deliver("INBOX", &sample_message(&format!("{}-idle", later.name), "new"));
    });
    let started = Instant::now();
    assert!(src.wait_for_mail(Duration::from_secs(20)).await.unwrap(), "IDLE did not report the new message");
    assert!(started.elapsed() < Duration::from_secs(10));
    delivery.await.unwrap();
    // The session is usable again after IDLE.
    assert_eq!(src.list().await.unwrap().len(), 1);
    src.close().await.unwrap();
}
