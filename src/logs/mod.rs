//! MTA logs: takes the bytes of an MTA's own log (PowerMTA accounting CSV, Postfix syslog
//! lines, Exim's mainlog, KumoMTA's JSON records, plain or zstd-compressed); gives one
//! [`LogRecord`] per recipient attempt (delivered, deferred, bounced, expired) with the
//! receiving server's verbatim words and the provenance, and an [`Unreadable`] for each line
//! it could not read, with its text and position (for the review queue; nothing is dropped).
//!
//! It never classifies (rules do that downstream, on the facts kept here), never writes
//! suppression, and never touches storage. The [`Reader`] is fed complete lines; a partial
//! last line is left for the next feed (a file still being written), and its
//! [`Checkpoint`] — the offset after the last complete line plus the join state of messages
//! not finished yet (Postfix queue ids, Exim message ids, the PowerMTA header) — is a plain
//! serialisable value, so whoever commits the records can commit it with them.
//!
//! One parser per format, each built from the MTA's documented log format: [`powermta`],
//! [`postfix`], [`exim`], [`kumomta`].

pub mod exim;
pub mod file;
pub mod kumomta;
pub mod postfix;
pub mod powermta;
mod record;

pub use record::{Entry, Kind, LogRecord, Position, Provenance, Unreadable, enhanced_status, reply_code};

use chrono::{Datelike, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// Which MTA wrote the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    PowerMta,
    Postfix,
    Exim,
    KumoMta,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "powermta" | "pmta" => Ok(Format::PowerMta),
            "postfix" => Ok(Format::Postfix),
            "exim" => Ok(Format::Exim),
            "kumomta" | "kumo" => Ok(Format::KumoMta),
            other => Err(format!("unknown log format {other:?}: use powermta, postfix, exim or kumomta")),
        }
    }
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::PowerMta => "powermta",
            Format::Postfix => "postfix",
            Format::Exim => "exim",
            Format::KumoMta => "kumomta",
        }
    }
}

/// What the log itself does not say.
#[derive(Clone, Debug)]
pub struct Options {
    /// The sending node's name, for formats that do not log it (PowerMTA, Exim).
    pub node: Option<String>,
    /// The year of classic syslog timestamps (`Dec  1 18:30:00`), which carry none.
    pub year: i32,
    /// The zone of timestamps written without one (classic syslog, Exim without
    /// `log_timezone`).
    pub offset: FixedOffset,
}

impl Default for Options {
    fn default() -> Self {
        Options { node: None, year: Utc::now().year(), offset: FixedOffset::east_opt(0).expect("UTC") }
    }
}

/// The join state of one format: what earlier lines said about messages not finished yet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum JoinState {
    #[default]
    None,
    PowerMta(powermta::State),
    Postfix(postfix::State),
    Exim(exim::State),
}

/// Where reading stopped: the next byte to read and the line number before it, with the
/// join state. Committed with the records it produced, it resumes without loss or repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: Format,
    pub offset: u64,
    pub line: u64,
    pub state: JoinState,
}

/// Reads one log stream, fed in chunks of bytes.
pub struct Reader {
    format: Format,
    options: Options,
    at: Position,
    state: JoinState,
}

impl Reader {
    pub fn new(format: Format, options: Options) -> Self {
        let state = match format {
            Format::PowerMta => JoinState::PowerMta(Default::default()),
            Format::Postfix => JoinState::Postfix(Default::default()),
            Format::Exim => JoinState::Exim(Default::default()),
            Format::KumoMta => JoinState::None,
        };
        Reader { format, options, at: Position::default(), state }
    }

    /// Goes on from a checkpoint: the bytes fed next must start at `checkpoint.offset`.
    pub fn resume(options: Options, checkpoint: Checkpoint) -> Self {
        let mut r = Reader::new(checkpoint.format, options);
        r.at = Position { offset: checkpoint.offset, line: checkpoint.line };
        // Only a state of this format's own reader (a checkpoint written under another
        // format, after the source was reconfigured, starts afresh).
        if std::mem::discriminant(&checkpoint.state) == std::mem::discriminant(&r.state) {
            r.state = checkpoint.state;
        }
        r
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { format: self.format, offset: self.at.offset, line: self.at.line, state: self.state.clone() }
    }

    /// Reads every complete line of `bytes` (the stream from the current offset on) into
    /// `out`; returns how many bytes it consumed. The rest — a partial last line — is to be
    /// fed again, with what follows it, once the writer has finished it.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Entry>) -> usize {
        let end = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
        self.lines(&bytes[..end], out);
        end
    }

    /// Reads what is left at the end of a finished stream (a last line without its newline).
    pub fn finish(&mut self, rest: &[u8], out: &mut Vec<Entry>) {
        if rest.iter().any(|b| !b.is_ascii_whitespace()) {
            let mut line = rest.to_vec();
            line.push(b'\n');
            self.lines(&line, out);
            // The added newline was never in the stream.
            self.at.offset -= 1;
        } else {
            self.at.offset += rest.len() as u64;
        }
    }

    /// `bytes` is whole lines, each ending in `\n`.
    fn lines(&mut self, bytes: &[u8], out: &mut Vec<Entry>) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.state {
            JoinState::PowerMta(state) => powermta::read(state, &self.options, bytes, &mut self.at, out),
            state => {
                for raw in bytes.split_inclusive(|b| *b == b'\n') {
                    self.at.line += 1;
                    let pos = self.at;
                    self.at.offset += raw.len() as u64;
                    let line = trim_eol(raw);
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match state {
                        JoinState::Postfix(s) => postfix::line(s, &self.options, line, pos, out),
                        JoinState::Exim(s) => exim::line(s, &self.options, line, pos, out),
                        _ => kumomta::line(&self.options, line, pos, out),
                    }
                }
            }
        }
    }
}

fn trim_eol(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// Why a log file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("cannot read log file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "log file {path} is zstd-compressed but its data is damaged after {decoded} decoded bytes: {source}; the bytes decoded so far were read"
    )]
    Zstd { path: String, decoded: usize, source: std::io::Error },
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The bytes of a log file, decompressed when it is a zstd segment (KumoMTA writes its logs
/// so, and rotated logs may be). A damaged or unfinished segment gives what decoded and the
/// error.
pub fn file_bytes(path: &Path) -> (Vec<u8>, Option<LogFileError>) {
    let shown = path.display().to_string();
    let raw = match std::fs::read(path) {
        Ok(b) => b,
        Err(source) => return (Vec::new(), Some(LogFileError::Io { path: shown, source })),
    };
    if !raw.starts_with(&ZSTD_MAGIC) {
        return (raw, None);
    }
    let mut out = Vec::new();
    let result = zstd::stream::read::Decoder::new(&raw[..]).and_then(|mut d| {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match d.read(&mut buf)? {
                0 => return Ok(()),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    });
    let err = result.err().map(|source| LogFileError::Zstd { path: shown, decoded: out.len(), source });
    (out, err)
}

/// What a whole file gave: its entries, and the damage that ended a compressed one early.
#[derive(Debug)]
pub struct FileEntries {
    pub entries: Vec<Entry>,
    pub damage: Option<LogFileError>,
}

/// Every entry of a whole, finished log file (the last line may lack its newline).
pub fn read_file(format: Format, options: Options, path: &Path) -> Result<FileEntries, LogFileError> {
    let (bytes, damage) = file_bytes(path);
    if let Some(e @ LogFileError::Io { .. }) = damage {
        return Err(e);
    }
    let mut reader = Reader::new(format, options);
    let mut entries = Vec::new();
    let used = reader.feed(&bytes, &mut entries);
    reader.finish(&bytes[used..], &mut entries);
    Ok(FileEntries { entries, damage })
}
