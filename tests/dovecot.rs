//! The test Dovecot that `make test` starts is really there and speaks each protocol:
//! later mailbox tests rely on it, so a broken test environment fails here first, clearly.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

fn greeting(port: u16) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("port {port}: {e}; run make test"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    let _ = (&s).write_all(b"a LOGOUT\r\n");
    line
}

#[test]
fn imap_and_pop3_answer_on_their_ports() {
    let d = support::Dovecot::get();
    assert!(greeting(d.imap_port).starts_with("* OK"), "imap");
    assert!(greeting(d.pop3_port).starts_with("+OK"), "pop3");
    assert!(greeting(d.plain_imap_port).starts_with("* OK"), "plain imap");
    assert!(greeting(d.plain_pop3_port).starts_with("+OK"), "plain pop3");
    assert!(d.ca_file.exists());
}
