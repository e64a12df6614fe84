//! The network under both protocols: DNS, TCP connect, one stream type for plain and TLS,
//! and the timeout every network operation runs under.
//!
//! Takes a host, a port and the per-operation timeout; gives a connected [`Conn`] or a
//! [`FetchError`] naming the stage. It never waits without a bound.

use super::error::{DETAIL_MAX, ErrorKind, FetchError, Stage, clip};
use async_native_tls::TlsStream;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connection before or after TLS; STARTTLS turns one into the other.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Runs one network operation under `limit`; a timeout becomes a [`FetchError`] at `stage`.
pub async fn within<T>(
    stage: Stage,
    server: &str,
    limit: Duration,
    op: impl Future<Output = T>,
) -> Result<T, FetchError> {
    tokio::time::timeout(limit, op).await.map_err(|_| FetchError::timeout(stage, server, limit))
}

/// Maps an I/O error to the kind that decides the advice.
pub fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ErrorKind::Closed,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Network,
    }
}

pub fn io_error(stage: Stage, server: &str, e: &io::Error) -> FetchError {
    FetchError::new(stage, io_kind(e), server, clip(&e.to_string(), DETAIL_MAX))
}

/// Resolves `host:port` to its addresses, in the resolver's order.
pub async fn resolve(host: &str, port: u16, server: &str, limit: Duration) -> Result<Vec<SocketAddr>, FetchError> {
    let found = within(Stage::Dns, server, limit, tokio::net::lookup_host((host, port))).await?;
    let addrs: Vec<SocketAddr> =
        found.map_err(|e| FetchError::new(Stage::Dns, ErrorKind::Network, server, e.to_string()))?.collect();
    if addrs.is_empty() {
        return Err(FetchError::new(Stage::Dns, ErrorKind::Network, server, format!("{host} has no address")));
    }
    Ok(addrs)
}

/// Connects to the first address that accepts; the error names every address tried.
pub async fn connect(addrs: &[SocketAddr], server: &str, limit: Duration) -> Result<TcpStream, FetchError> {
    let mut failures = Vec::new();
    let mut kind = ErrorKind::Network;
    for addr in addrs {
        match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                // Commands are small and answered one at a time: do not let Nagle delay them.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => failures.push(format!("{addr}: {}", describe_connect(&e))),
            Err(_) => {
                kind = ErrorKind::Timeout;
                failures.push(format!("{addr}: no answer within {} s", limit.as_secs_f32()));
            }
        }
    }
    Err(FetchError::new(Stage::Connect, kind, server, failures.join("; ")))
}

fn describe_connect(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}
