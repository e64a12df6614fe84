//! The test Postfix started by `tests/support/postfix.sh` (`make test` does it) and an SMTP
//! probe: what smtpd answers to `RCPT TO:` an address.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;

/// The test Postfix started by `tests/support/postfix.sh` (`make test` does it).
pub struct Postfix {
    pub dir: PathBuf,
    pub port: u16,
    pub table: PathBuf,
    /// Where mail for `sink.rebound.test` is relayed to (a test's own SMTP sink).
    pub sink_port: u16,
}

/// Tests that rewrite the one table the test Postfix reads take turns.
pub static POSTFIX_TABLE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Postfix {
    pub fn get() -> Postfix {
        let dir = PathBuf::from(
            std::env::var("REBOUND_TEST_POSTFIX_DIR").unwrap_or_else(|_| "/tmp/rebound-test-postfix".into()),
        );
        let env = std::fs::read_to_string(dir.join("env")).unwrap_or_else(|e| {
            panic!(
                "the test Postfix is not running ({}: {e}); run `make test` or `tests/support/postfix.sh start`",
                dir.join("env").display()
            )
        });
        let get = |k: &str| env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).expect(k).to_string();
        Postfix {
            port: get("REBOUND_TEST_SMTP_PORT").parse().expect("port"),
            table: PathBuf::from(get("REBOUND_TEST_POSTFIX_TABLE")),
            sink_port: get("REBOUND_TEST_SINK_PORT").parse().expect("sink port"),
            dir,
        }
    }

    /// The server's reply to `RCPT TO:<address>` (its last line), on a fresh connection.
    pub fn rcpt(&self, address: &str) -> String {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the test Postfix");
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let reply = |r: &mut BufReader<TcpStream>| {
            let mut line = String::new();
            loop {
                line.clear();
                r.read_line(&mut line).expect("SMTP reply");
                if line.len() < 4 || line.as_bytes()[3] != b'-' {
                    return line.trim_end().to_string();
                }
            }
        };
        reply(&mut r);
        for cmd in ["EHLO test.example", "MAIL FROM:<news@sender.example>"] {
            writeln!(w, "{cmd}\r").unwrap();
            let got = reply(&mut r);
            assert!(got.starts_with('2'), "{cmd}: {got}");
        }
        writeln!(w, "RCPT TO:<{address}>\r").unwrap();
        let got = reply(&mut r);
        let _ = writeln!(w, "QUIT\r");
        got
    }
}
