//! Debian's Postfix (the test instance of `tests/support/postfix.sh`) sends three messages to
//! an SMTP sink run here, which accepts one recipient, refuses one with 550 5.1.1 and defers
//! one with 451 4.2.0; the maillog Postfix really wrote (`maillog_file`, through postlogd) is
//! then imported, and each recipient's fate is asserted from the events.

use super::support::TestDb;
use super::support::postfix::Postfix;
use super::{count, rebound, run_ok, text};
use rebound::store::Db;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Answers one SMTP session: RCPT of `gone-*` 550, of `busy-*` 451, anything else 250.
fn sink_session(s: TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let _ = w.write_all(b"220 sink.example ESMTP\r\n");
    let mut line = String::new();
    let mut data = false;
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if data {
            if line == ".\r\n" || line == ".\n" {
                data = false;
                let _ = w.write_all(b"250 2.0.0 Ok: queued as SINK1\r\n");
            }
            continue;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.example\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("RCPT TO:<GONE-") {
            b"550 5.1.1 <gone>: Recipient address rejected: User unknown in local recipient table\r\n"
        } else if upper.starts_with("RCPT TO:<BUSY-") {
            b"451 4.2.0 Mailbox busy, try again later\r\n"
        } else if upper.starts_with("DATA") {
            data = true;
            b"354 End data with <CR><LF>.<CR><LF>\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = w.write_all(b"221 2.0.0 Bye\r\n");
            return;
        } else {
            b"250 2.0.0 Ok\r\n"
        };
        let _ = w.write_all(reply);
    }
}

/// Hands one message to Postfix's smtpd.
fn submit(port: u16, from: &str, to: &str, message_id: &str) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the test Postfix");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || {
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).expect("SMTP reply");
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line.clone();
            }
        }
    };
    assert!(reply().starts_with("220"));
    let body = format!(
        "From: News <news@sender.example>\r\nTo: <{to}>\r\nSubject: news\r\nMessage-ID: <{message_id}>\r\n\r\nHello\r\n.\r\n"
    );
    for (cmd, want) in [
        ("EHLO test.example\r\n".to_string(), "250"),
        (format!("MAIL FROM:<{from}>\r\n"), "250"),
        (format!("RCPT TO:<{to}>\r\n"), "250"),
        ("DATA\r\n".to_string(), "354"),
        (body, "250"),
        ("QUIT\r\n".to_string(), "221"),
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        let got = reply();
        assert!(got.starts_with(want), "{}: {got}", cmd.lines().next().unwrap_or(""));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_maillog_of_real_deliveries() {
    let pf = Postfix::get();
    let sink = TcpListener::bind(("127.0.0.1", pf.sink_port))
        .unwrap_or_else(|e| panic!("the sink port {} (REBOUND_TEST_PORT_BASE + 2526): {e}", pf.sink_port));
    std::thread::spawn(move || {
        for s in sink.incoming().flatten() {
            std::thread::spawn(move || sink_session(s));
        }
    });
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let campaign = format!("pf{tag}");
    for who in ["ok", "gone", "busy"] {
        let rcpt = format!("{who}-{tag}@sink.rebound.test");
        let verp = format!("bounces+{campaign}-{who}-{tag}=sink.rebound.test@sink.rebound.test");
        submit(pf.port, &verp, &rcpt, &format!("{who}-{tag}@news.example.com"));
    }
    // Postfix logs each recipient's fate within a second or two.
    let maillog = pf.dir.join("maillog");
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(&maillog).unwrap_or_default();
        let done = ["ok", "gone", "busy"].iter().all(|w| {
            log.lines().any(|l| l.contains(&format!("to=<{w}-{tag}@sink.rebound.test>")) && l.contains("status="))
        });
        if done {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "Postfix did not log the three deliveries:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let db = TestDb::sqlite();
    let out = run_ok(rebound(&db, &["import-log", "--format", "postfix", maillog.to_str().unwrap()]));
    assert!(out.contains("new records"), "{out}");
    let store = Db::connect(&db.config()).unwrap();
    let rcpt = |w: &str| format!("{w}-{tag}@sink.rebound.test");
    let one = |w: &str, cond: &str| {
        format!(
            "events e JOIN event_provenance p ON p.event_id = e.id WHERE e.recipient = '{}' AND e.campaign_id = '{campaign}' \
             AND e.attribution = 'verp' AND p.node = 'node' AND p.remote_ip = '127.0.0.1' AND p.queue_id IS NOT NULL \
             AND p.message_id = '{w}-{tag}@news.example.com' AND {cond}",
            rcpt(w)
        )
    };
    assert_eq!(
        count(&store, &one("ok", "e.kind = 'delivered' AND p.log_kind = 'delivered' AND e.status = '2.0.0'")).await,
        1
    );
    let gone = "e.kind = 'bounce' AND p.log_kind = 'bounced' AND e.classification = 'hard' AND e.status = '5.1.1' \
                AND e.reply_code = 550 AND e.diagnostic LIKE '%User unknown in local recipient table%'";
    assert_eq!(count(&store, &one("gone", gone)).await, 1);
    let busy = "e.kind = 'delay' AND p.log_kind = 'deferred' AND e.classification = 'ignore' AND e.status = '4.2.0' \
                AND e.reply_code = 451";
    assert_eq!(count(&store, &one("busy", busy)).await, 1);
    // Each once, and only the refused one suppressed.
    assert_eq!(count(&store, &format!("events WHERE recipient LIKE '%-{tag}@sink.rebound.test'")).await, 3);
    let suppressed = text(&store, "SELECT address AS s FROM suppressions").await;
    assert_eq!(suppressed, Some(rcpt("gone")));
}
