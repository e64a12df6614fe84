//! POP3 on the wire: one command line out, one status line or a dot-terminated multi-line
//! answer back.
//!
//! Takes a connection and the per-operation timeout; gives status text (`+OK …`), the
//! server's words of a `-ERR` as a refusal, and multi-line answers with dot-stuffing undone.
//! Every read and write is bounded in time and every line in length. After an error that
//! leaves the conversation out of step it refuses further use rather than misread answers.

use crate::fetch::error::{DETAIL_MAX, ErrorKind, FetchError, Stage, clip};
use crate::fetch::net::{Conn, io_error, within};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Status and listing lines are short (RFC 1939 says 512 octets); anything far longer is not POP3.
pub const MAX_STATUS_LINE: usize = 8 * 1024;

/// The answer to a line of a SASL exchange.
pub enum Step {
    Challenge(String),
    Done,
}

pub struct Wire {
    io: BufReader<Conn>,
    pub server: String,
    limit: Duration,
    /// Set after an error that leaves the protocol state unknown.
    broken: bool,
}

impl Wire {
    pub fn new(conn: Conn, server: String, limit: Duration) -> Self {
        Self { io: BufReader::new(conn), server, limit, broken: false }
    }

    /// The connection back, for the TLS handshake after STLS. Bytes already received after
    /// the +OK would be plaintext injected before TLS (CVE-2011-0411 style): refused.
    pub fn into_conn(self) -> Result<Conn, FetchError> {
        if !self.io.buffer().is_empty() {
            return Err(self.err(Stage::Tls, ErrorKind::Protocol, "the server sent data after +OK to STLS"));
        }
        Ok(self.io.into_inner())
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// `e`, after which the session refuses further use: for errors found above the wire
    /// that leave the conversation out of step.
    pub fn abandon(&mut self, e: FetchError) -> FetchError {
        self.broken = true;
        e
    }

    pub fn err(&self, stage: Stage, kind: ErrorKind, detail: impl Into<String>) -> FetchError {
        FetchError::new(stage, kind, &self.server, detail)
    }

    /// Marks the session unusable after an error that leaves the protocol state unknown.
    fn track<T>(&mut self, r: Result<T, FetchError>) -> Result<T, FetchError> {
        if let Err(e) = &r
            && e.breaks_session()
        {
            self.broken = true;
        }
        r
    }

    fn usable(&self, stage: Stage) -> Result<(), FetchError> {
        if self.broken {
            return Err(self.err(
                stage,
                ErrorKind::Local,
                "the session was lost after an earlier error; open a new one",
            ));
        }
        Ok(())
    }

    async fn send(&mut self, stage: Stage, line: &str) -> Result<(), FetchError> {
        self.usable(stage)?;
        let bytes = format!("{line}\r\n");
        let (server, limit) = (self.server.clone(), self.limit);
        let io = self.io.get_mut();
        let r = within(stage, &server, limit, async {
            io.write_all(bytes.as_bytes()).await?;
            io.flush().await
        })
        .await
        .and_then(|r| r.map_err(|e| io_error(stage, &server, &e)));
        self.track(r)
    }

    /// One line including its line ending, at most `cap` bytes: a longer line is an error,
    /// or with `truncate` is cut to `cap` bytes (the rest is read and dropped). Also gives
    /// the line's length on the wire.
    async fn read_line(&mut self, stage: Stage, cap: usize, truncate: bool) -> Result<(Vec<u8>, u64), FetchError> {
        let r = self.read_line_inner(stage, cap, truncate).await;
        self.track(r)
    }

    async fn read_line_inner(
        &mut self,
        stage: Stage,
        cap: usize,
        truncate: bool,
    ) -> Result<(Vec<u8>, u64), FetchError> {
        let (mut line, mut read) = (Vec::new(), 0u64);
        loop {
            let buf = match within(stage, &self.server, self.limit, self.io.fill_buf()).await? {
                Ok(buf) => buf,
                Err(e) => return Err(io_error(stage, &self.server, &e)),
            };
            if buf.is_empty() {
                return Err(FetchError::new(
                    stage,
                    ErrorKind::Closed,
                    &self.server,
                    "the server closed the connection",
                ));
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = if truncate { cap.saturating_sub(line.len()) } else { take };
            line.extend_from_slice(&buf[..take.min(room)]);
            self.io.consume(take);
            read += take as u64;
            if line.len() > cap {
                return Err(FetchError::new(
                    stage,
                    ErrorKind::Protocol,
                    &self.server,
                    format!("the server sent a line longer than {cap} bytes"),
                ));
            }
            if done {
                return Ok((line, read));
            }
        }
    }

    /// Reads a status line: the text after `+OK`, or the server's words after `-ERR` as a refusal.
    pub async fn response(&mut self, stage: Stage) -> Result<String, FetchError> {
        let (line, _) = self.read_line(stage, MAX_STATUS_LINE, false).await?;
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        self.status(stage, text)
    }

    /// Sends one line of a SASL exchange (RFC 5034) and reads the answer: a `+ ` challenge
    /// (base64, given as sent) asks for the next line, `+OK` ends it, `-ERR` refuses.
    pub async fn sasl(&mut self, stage: Stage, line: &str) -> Result<Step, FetchError> {
        self.send(stage, line).await?;
        let (line, _) = self.read_line(stage, MAX_STATUS_LINE, false).await?;
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text == "+" || text.starts_with("+ ") {
            return Ok(Step::Challenge(text[1..].trim().to_string()));
        }
        self.status(stage, text).map(|_| Step::Done)
    }

    fn status(&mut self, stage: Stage, text: String) -> Result<String, FetchError> {
        if let Some(rest) = text.strip_prefix("+OK") {
            Ok(rest.trim_start().to_string())
        } else if let Some(rest) = text.strip_prefix("-ERR") {
            Err(self.err(stage, ErrorKind::Rejected, clip(rest.trim_start(), DETAIL_MAX)))
        } else {
            let r =
                Err(self.err(stage, ErrorKind::Protocol, format!("not a POP3 answer: `{}`", clip(&text, DETAIL_MAX))));
            self.track(r)
        }
    }

    pub async fn command(&mut self, stage: Stage, line: &str) -> Result<String, FetchError> {
        self.send(stage, line).await?;
        self.response(stage).await
    }

    /// Reads a multi-line body up to the terminating "." line, undoing dot-stuffing, and hands
    /// each line (with its line ending) to `each`; an error once a line exceeds `line_cap` or
    /// the whole exceeds `cap` bytes.
    pub async fn multiline(
        &mut self,
        stage: Stage,
        cap: u64,
        line_cap: usize,
        each: impl FnMut(&[u8]),
    ) -> Result<(), FetchError> {
        self.lines(stage, cap, line_cap, false, each).await
    }

    /// Reads a multi-line body like [`multiline`](Self::multiline) but keeps only its first
    /// `keep` bytes: the rest is read and dropped, so the conversation stays in step.
    pub async fn multiline_head(&mut self, stage: Stage, cap: u64, keep: usize) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        // A kept line may hold `keep` bytes plus a stuffed dot and CRLF.
        self.lines(stage, cap, keep.saturating_add(3), true, |l| {
            let room = keep.saturating_sub(out.len());
            out.extend_from_slice(&l[..l.len().min(room)]);
        })
        .await?;
        Ok(out)
    }

    async fn lines(
        &mut self,
        stage: Stage,
        cap: u64,
        line_cap: usize,
        truncate: bool,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), FetchError> {
        let mut total: u64 = 0;
        loop {
            let (line, read) = self.read_line(stage, line_cap, truncate).await?;
            if line == b".\r\n" || line == b".\n" {
                return Ok(());
            }
            let (line, read) = if line.starts_with(b".") { (&line[1..], read - 1) } else { (&line[..], read) };
            total += read;
            if total > cap {
                let r = Err(self.err(stage, ErrorKind::TooLarge, format!("the answer exceeds {cap} bytes")));
                self.broken = true; // the rest of the answer is still on the wire
                return r;
            }
            each(line);
        }
    }
}
