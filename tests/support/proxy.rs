//! A fault-injecting TCP proxy on loopback, for tests that need a network that misbehaves
//! between rebound and a real server (Dovecot, PostgreSQL): cut, stalled, tampered with,
//! silently dropping, or refusing.
//!
//! Takes an upstream address and a [`Fault`]; gives a listener on `127.0.0.1:0` that forwards
//! every connection to the upstream, applying the fault. [`Proxy::set_fault`] switches the
//! fault at any time and open connections feel it on their next chunk (a chunk read while a
//! fault holds traffic is kept and forwarded once the fault allows it, as TCP retransmission
//! would). Byte offsets count upstream bytes of one connection in one direction, from the
//! later of its start and the last `set_fault`; injected bytes are not counted.
//!
//! It runs on a thread and runtime of its own, so it keeps forwarding while the test's own
//! runtime is blocked (waiting for a child process, say), and works from sync tests too.
//! Dropping the [`Proxy`] closes every connection. It never listens beyond loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ServerToClient,
    ClientToServer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    None,
    /// Forward `bytes` bytes in `direction`, then close both sides (a reset mid-answer).
    CutAfter { bytes: u64, direction: Direction },
    /// Forward `after_bytes` server→client bytes, then nothing either way; sockets stay open.
    Stall { after_bytes: u64 },
    /// Insert `bytes` into the server→client stream at that offset, once per `set_fault`
    /// (on the first connection that gets there).
    Inject { after_bytes: u64, bytes: Vec<u8> },
    /// Insert `bytes` into the server→client stream right after the first occurrence of
    /// `marker` (at most 1 KiB), once per `set_fault`: for "mid-RETR" without counting bytes.
    InjectAfter { marker: Vec<u8>, bytes: Vec<u8> },
    /// Accept and hold connections and data, never forward, never close (a firewall
    /// dropping packets). New connections are not even opened upstream.
    BlackHole,
    /// Close new connections at once (nothing listening); open ones carry on.
    Refuse,
}

/// The fault in force and its generation (bumped by every `set_fault`).
struct Armed {
    fault: Fault,
    generation: u64,
    fired: AtomicBool,
}

impl Armed {
    /// True the first time only: one-shot faults fire once per `set_fault`.
    fn fire(&self) -> bool {
        !self.fired.swap(true, Ordering::SeqCst)
    }
}

pub struct Proxy {
    addr: SocketAddr,
    faults: watch::Sender<Arc<Armed>>,
    accepted: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr, fault: Fault) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy: bind a loopback port");
        listener.set_nonblocking(true).expect("proxy: non-blocking listener");
        let addr = listener.local_addr().expect("proxy: bound address");
        let (faults, rx) = watch::channel(Arc::new(Armed { fault, generation: 0, fired: AtomicBool::new(false) }));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = oneshot::channel::<()>();
        let count = accepted.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("proxy: runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("proxy: tokio listener");
                tokio::select! {
                    _ = accept_loop(listener, upstream, rx, count) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops every connection task, closing their sockets.
        });
        Proxy { addr, faults, accepted, stop: Some(stop), thread: Some(thread) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far (refused ones included).
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn set_fault(&self, fault: Fault) {
        let generation = self.faults.borrow().generation + 1;
        self.faults.send_replace(Arc::new(Armed { fault, generation, fired: AtomicBool::new(false) }));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    faults: watch::Receiver<Arc<Armed>>,
    accepted: Arc<AtomicUsize>,
) {
    while let Ok((client, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        if faults.borrow().fault == Fault::Refuse {
            continue; // dropped: closed at once
        }
        tokio::spawn(connection(client, upstream, faults.clone()));
    }
}

async fn connection(client: TcpStream, upstream: SocketAddr, mut faults: watch::Receiver<Arc<Armed>>) {
    // Black-holed: hold the client (its data waits in the kernel), open nothing upstream.
    while faults.borrow_and_update().fault == Fault::BlackHole {
        if faults.changed().await.is_err() {
            return;
        }
    }
    if faults.borrow().fault == Fault::Refuse {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let counts = Arc::new(Mutex::new(Counts::default()));
    let down = pump(server_r, client_w, Direction::ServerToClient, faults.clone(), counts.clone());
    let up = pump(client_r, server_w, Direction::ClientToServer, faults, counts);
    tokio::pin!(down, up);
    // A cut ends both at once (dropping all four halves); an orderly end of one side waits
    // for the other.
    let (mut down_done, mut up_done) = (false, false);
    while !(down_done && up_done) {
        let end = tokio::select! {
            e = &mut down, if !down_done => { down_done = true; e }
            e = &mut up, if !up_done => { up_done = true; e }
        };
        if end == End::Cut {
            return;
        }
    }
}

/// Upstream bytes forwarded per direction under the current fault generation.
#[derive(Default)]
struct Counts {
    generation: u64,
    down: u64,
    up: u64,
}

impl Counts {
    fn passed(&mut self, generation: u64, dir: Direction) -> (u64, u64) {
        if self.generation != generation {
            *self = Counts { generation, down: 0, up: 0 };
        }
        (if dir == Direction::ServerToClient { self.down } else { self.up }, self.down)
    }

    fn add(&mut self, dir: Direction, n: u64) {
        *(if dir == Direction::ServerToClient { &mut self.down } else { &mut self.up }) += n;
    }
}

#[derive(PartialEq, Eq)]
enum End {
    Eof,
    Cut,
}

enum Then {
    Go,
    Hold,
    Cut,
}

const MARKER_MAX: usize = 1024;

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: Direction,
    mut faults: watch::Receiver<Arc<Armed>>,
    counts: Arc<Mutex<Counts>>,
) -> End {
    let mut buf = vec![0u8; 16 * 1024];
    let mut recent: Vec<u8> = Vec::new(); // the last bytes forwarded, for markers split across reads
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return End::Eof;
            }
            Ok(n) => n,
        };
        let mut pending = &buf[..n];
        while !pending.is_empty() {
            let armed = faults.borrow_and_update().clone();
            let (passed, down) = counts.lock().expect("proxy counts").passed(armed.generation, dir);
            let (take, extra, then) = decide(&armed, dir, passed, down, pending, &recent);
            if to.write_all(&pending[..take]).await.is_err() {
                return End::Cut;
            }
            if let Some(extra) = extra
                && to.write_all(&extra).await.is_err()
            {
                return End::Cut;
            }
            counts.lock().expect("proxy counts").add(dir, take as u64);
            recent.extend_from_slice(&pending[..take]);
            recent.drain(..recent.len().saturating_sub(MARKER_MAX));
            pending = &pending[take..];
            match then {
                Then::Go => {}
                Then::Cut => return End::Cut,
                Then::Hold => {
                    if faults.changed().await.is_err() {
                        return End::Cut;
                    }
                }
            }
        }
    }
}

/// Of `chunk`, how many bytes to forward now, what to insert after them, and what then.
fn decide(
    armed: &Armed,
    dir: Direction,
    passed: u64,
    down: u64,
    chunk: &[u8],
    recent: &[u8],
) -> (usize, Option<Vec<u8>>, Then) {
    let n = chunk.len();
    let upto = |limit: u64| usize::try_from(limit.saturating_sub(passed)).unwrap_or(usize::MAX).min(n);
    let s2c = dir == Direction::ServerToClient;
    match &armed.fault {
        Fault::BlackHole => (0, None, Then::Hold),
        Fault::Stall { after_bytes } if s2c => {
            let k = upto(*after_bytes);
            (k, None, if k < n { Then::Hold } else { Then::Go })
        }
        Fault::Stall { after_bytes } if down >= *after_bytes => (0, None, Then::Hold),
        Fault::CutAfter { bytes, direction } if *direction == dir => {
            let k = upto(*bytes);
            (k, None, if passed + k as u64 >= *bytes { Then::Cut } else { Then::Go })
        }
        Fault::Inject { after_bytes, bytes } if s2c && passed + n as u64 >= *after_bytes && armed.fire() => {
            (upto(*after_bytes), Some(bytes.clone()), Then::Go)
        }
        Fault::InjectAfter { marker, bytes } if s2c && !marker.is_empty() => {
            let hay = [recent, chunk].concat();
            let end = hay
                .windows(marker.len())
                .enumerate()
                .find(|(i, w)| i + marker.len() > recent.len() && w == &marker.as_slice())
                .map(|(i, _)| i + marker.len() - recent.len());
            match end {
                Some(end) if armed.fire() => (end, Some(bytes.clone()), Then::Go),
                _ => (n, None, Then::Go),
            }
        }
        _ => (n, None, Then::Go),
    }
}
