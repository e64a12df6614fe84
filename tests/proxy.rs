//! The fault-injecting proxy of tests/support itself, in front of the real Dovecot's plain
//! POP3 port (its greeting is `+OK …\r\n`, and CAPA is answered with `+OK`): each fault does what it
//! says, on new connections and on open ones when switched mid-stream.

mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::Dovecot;
use support::proxy::{Direction, Fault, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long silence must last to count as "held"; data that should come gets 5 s.
const QUIET: Duration = Duration::from_millis(300);
const SOON: Duration = Duration::from_secs(5);

fn pop3() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], Dovecot::get().plain_pop3_port))
}

/// What arrives within `wait`: bytes (none if nothing came), or None when the connection
/// ended (EOF or reset).
async fn read_within(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Err(_) => Some(Vec::new()),
        Ok(Ok(0) | Err(_)) => None,
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
    }
}

async fn read_some(s: &mut TcpStream) -> Option<Vec<u8>> {
    read_within(s, SOON).await
}

/// Asserts that the connection stays open and silent.
async fn held(s: &mut TcpStream, what: &str) {
    assert_eq!(read_within(s, QUIET).await.as_deref(), Some(b"".as_slice()), "{what}");
}

/// Reads until a line end arrives.
async fn line(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n") {
        match read_some(s).await {
            Some(b) if !b.is_empty() => got.extend(b),
            other => panic!("no line: got {:?} then {other:?}", String::from_utf8_lossy(&got)),
        }
    }
    got
}

#[tokio::test]
async fn passes_through_injects_and_cuts() {
    let proxy = Proxy::start(pop3(), Fault::None);
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let greeting = line(&mut s).await;
    assert!(greeting.starts_with(b"+OK "), "{greeting:?}");

    proxy.set_fault(Fault::Inject { after_bytes: 3, bytes: b"XYZ".to_vec() });
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(line(&mut s).await, [b"+OKXYZ".as_slice(), &greeting[3..]].concat());
    let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(line(&mut again).await, greeting, "an injection fires once");

    proxy.set_fault(Fault::CutAfter { bytes: 5, direction: Direction::ServerToClient });
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_some(&mut s).await.as_deref(), Some(&greeting[..5]));
    assert_eq!(read_some(&mut s).await, None, "closed after 5 bytes");

    proxy.set_fault(Fault::CutAfter { bytes: 2, direction: Direction::ClientToServer });
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(line(&mut s).await, greeting);
    s.write_all(b"NOOP\r\n").await.unwrap();
    assert_eq!(read_some(&mut s).await, None, "closed after 2 bytes upstream");

    proxy.set_fault(Fault::Refuse);
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_some(&mut s).await, None, "refused");
    assert_eq!(proxy.connections(), 6);
}

#[tokio::test]
async fn stall_and_black_hole_hold_traffic_until_lifted() {
    let proxy = Proxy::start(pop3(), Fault::Stall { after_bytes: 3 });
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_some(&mut s).await.as_deref(), Some(b"+OK".as_slice()));
    held(&mut s, "stalled, still open").await;
    proxy.set_fault(Fault::None);
    let rest = line(&mut s).await;
    assert!(rest.starts_with(b" ") && rest.ends_with(b"\r\n"), "{rest:?}");

    // Switched on under an open connection: the command is held, not lost, not refused.
    proxy.set_fault(Fault::BlackHole);
    s.write_all(b"CAPA\r\n").await.unwrap();
    held(&mut s, "black-holed, still open").await;
    let mut new = TcpStream::connect(proxy.addr()).await.expect("a black hole still accepts");
    held(&mut new, "no greeting, not closed").await;
    proxy.set_fault(Fault::None);
    assert!(line(&mut s).await.starts_with(b"+OK"), "the held CAPA went through");
    assert!(line(&mut new).await.starts_with(b"+OK"), "the held connection was opened upstream");
}
