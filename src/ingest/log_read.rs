//! One pass over one log file: from its checkpoint to what was there when the pass began, a
//! transaction per chunk, each holding the chunk's records, its unreadable lines and the
//! checkpoint after it.
//!
//! Takes a source (its name, format and context), a path and a connection; gives what the
//! pass recorded. `rebound import-log` makes one pass per file; `rebound serve` makes one per
//! file of each `[[mta_log]]` source every poll, so following a file is the same code as
//! importing it, and a kill -9 at any point resumes at the last committed chunk. A file
//! shorter than its checkpoint was truncated in place (copy-truncate rotation): it is read
//! again from its start, and lines recorded before are known by their origin ref. A partial
//! last line is left for the next pass unless the file is a finished (compressed) segment.
//! A file read for the first time starts from the join state of the file of its source read
//! last (rotation: the unfinished queue ids of file N are joined in file N+1).
//! It never parses a line itself and never writes outside [`Pipeline::ingest_log`].

use super::log::{LogBatch, LogContext, LogStats, TAIL, origin_ref, tail_digest};
use super::{IngestError, Pipeline};
use crate::logs::file::{self, Compression, FileId};
use crate::logs::{Checkpoint, Entry, Format, JoinState, Options, Reader};
use crate::record::logged;
use crate::store::AnyConnection;
use std::path::Path;

/// Bytes read per transaction: about 10,000 accounting lines. Each commit writes every page
/// its rows touched, and the random-keyed indexes (origin ref, recipient) spread a chunk's
/// rows over most of their pages, as the statistics cells of a chunk are the same few
/// thousand whatever its size: the bench committed 9,200 records per CPU-second with 1 MiB
/// chunks, 14,000 with 4 MiB, 13,500 with 8 MiB and 12,700 with 16 MiB.
pub const CHUNK: usize = 4 << 20;

/// What one log source is.
#[derive(Debug, Clone)]
pub struct LogSource {
    /// `log:NAME`, or `import:FORMAT` for files imported without a configured source.
    pub source: String,
    pub format: Format,
    pub options: Options,
    pub context: LogContext,
}

/// Why a pass stopped: the file, or the database.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("cannot read log file {path}: {source}; what was committed before stays, the next pass goes on from there")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl From<crate::store::StoreError> for PassError {
    fn from(e: crate::store::StoreError) -> Self {
        PassError::Ingest(IngestError::Store(e))
    }
}

impl Pipeline {
    /// Reads `path` from its checkpoint to the end it had when the pass began (a plain file;
    /// a compressed segment to its end); `progress` is told the bytes read and the running
    /// counts after each committed chunk.
    pub fn log_pass(
        &self,
        c: &mut AnyConnection,
        src: &LogSource,
        path: &Path,
        progress: &mut dyn FnMut(u64, &LogStats),
    ) -> Result<LogStats, PassError> {
        let shown = path.display().to_string();
        let io = |source| PassError::Io { path: shown.clone(), source };
        let id = file::identify(path).map_err(io)?;
        let saved = logged::get(c, &src.source, &id.key).map_err(IngestError::from)?;
        // A compressed segment read to its end is final (its size is set at the end only):
        // decompressing it again on every poll would find nothing.
        if id.compression != Compression::None && saved.as_ref().is_some_and(|s| s.size == s.read_offset) {
            return Ok(LogStats::default());
        }
        let before = match (&saved, id.compression) {
            (Some(s), Compression::None) => bytes_before(path, s.read_offset as u64).map_err(io)?,
            _ => Vec::new(),
        };
        // A file never read before goes on from the join state of the source's file read
        // last (the one it was rotated from): a queue id whose `from=` line is in file N
        // and its `to=` line in file N+1 still joins.
        let carried = match saved {
            None => logged::latest_join_state(c, &src.source, &id.key).map_err(IngestError::from)?,
            Some(_) => None,
        };
        let mut reader = resume(src, &id, saved.as_ref(), &before, carried.as_deref());
        let start = reader.checkpoint().offset;
        let mut chunks = file::Chunks::open(path, &id, start).map_err(io)?;
        let mut total = LogStats::default();
        let mut pending: Vec<u8> = Vec::new();
        let mut base = start;
        // The last bytes read, for the checkpoint's tail digest.
        let mut tail: Vec<u8> = if start == 0 { Vec::new() } else { before };
        // A plain file is read up to the size it had when the pass began: with a writer
        // appending all the time a pass would otherwise never end, and a follower with
        // several files or sources would serve only this one. The next poll goes on.
        let mut left = match id.compression {
            Compression::None => id.size.saturating_sub(start),
            _ => u64::MAX,
        };
        loop {
            let max = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            let n = chunks.read_into(&mut pending, max).map_err(io)?;
            left = left.saturating_sub(n as u64);
            let finished = n == 0;
            let mut entries = Vec::new();
            let used = reader.feed(&pending, &mut entries);
            if finished && id.compression != Compression::None {
                reader.finish(&pending[used..], &mut entries);
            }
            let consumed = if finished && id.compression != Compression::None { pending.len() } else { used };
            // The end of a compressed segment is always committed: it marks the segment final.
            let segment_end = finished && id.compression != Compression::None;
            if consumed == 0 && entries.is_empty() && !segment_end {
                if finished {
                    break;
                }
                // A line longer than what is pending: read on.
                continue;
            }
            let at = reader.checkpoint().offset;
            // A compressed segment's size is known at its end; until then it reads as unfinished.
            let size = match id.compression {
                Compression::None => id.size.max(at) as i64,
                _ if finished => at as i64,
                _ => -1,
            };
            tail.extend_from_slice(&pending[..consumed]);
            tail.drain(..tail.len().saturating_sub(TAIL));
            let mut batch = batch_of(src, &id, &shown, size, &pending, base, entries, reader.checkpoint());
            if id.compression == Compression::None {
                batch.tail = tail_digest(&tail);
            }
            let stats = self.ingest_log(c, src.format, &src.context, &batch)?;
            total.add(&stats);
            progress(consumed as u64, &total);
            pending.drain(..consumed);
            base += consumed as u64;
            if finished {
                break;
            }
        }
        Ok(total)
    }
}

/// Up to [`TAIL`] bytes of a plain file before `offset` (fewer when the file is shorter now).
fn bytes_before(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let from = offset.saturating_sub(TAIL as u64);
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut out = Vec::with_capacity(TAIL);
    f.take(offset - from).read_to_end(&mut out)?;
    Ok(out)
}

/// A reader at the file's checkpoint, or at its start when there is none or the file was
/// truncated in place: it is shorter than the checkpoint, or the bytes before the
/// checkpoint are no longer those read there (written again to the same length or more).
fn resume(
    src: &LogSource,
    id: &FileId,
    saved: Option<&logged::Checkpoint>,
    before: &[u8],
    carried: Option<&str>,
) -> Reader {
    let Some(s) = saved else {
        let state: JoinState = carried.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
        return Reader::resume(src.options.clone(), Checkpoint { format: src.format, offset: 0, line: 0, state });
    };
    let state: JoinState = serde_json::from_str(&s.join_state).unwrap_or_default();
    let rewritten = (s.read_offset as u64) > id.size || (!s.tail.is_empty() && tail_digest(before) != s.tail);
    if id.compression == Compression::None && rewritten {
        // Copy-truncate: the file starts over; what earlier lines said of open queue ids holds.
        return Reader::resume(src.options.clone(), Checkpoint { format: src.format, offset: 0, line: 0, state });
    }
    Reader::resume(
        src.options.clone(),
        Checkpoint { format: src.format, offset: s.read_offset as u64, line: s.line_no as u64, state },
    )
}

#[allow(clippy::too_many_arguments)]
fn batch_of<'a>(
    src: &'a LogSource,
    id: &'a FileId,
    path: &'a str,
    size: i64,
    bytes: &[u8],
    base: u64,
    entries: Vec<Entry>,
    checkpoint: Checkpoint,
) -> LogBatch<'a> {
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for e in entries {
        match e {
            Ok(r) => {
                let line = line_at(bytes, base, r.position.offset);
                let key = match line {
                    Some(l) => origin_ref(src.format, l),
                    // A record whose line is not in this chunk (never expected): its own fields.
                    None => origin_ref(src.format, serde_json::to_string(&r).unwrap_or_default().as_bytes()),
                };
                records.push((r, key));
            }
            Err(u) => unreadable.push(u),
        }
    }
    LogBatch {
        source: &src.source,
        file_key: &id.key,
        path,
        size,
        records,
        unreadable,
        checkpoint,
        tail: String::new(),
    }
}

/// The line starting at stream offset `at`, when it is in `bytes` (which start at `base`).
fn line_at(bytes: &[u8], base: u64, at: u64) -> Option<&[u8]> {
    let from = usize::try_from(at.checked_sub(base)?).ok()?;
    let rest = bytes.get(from..)?;
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The checkpoint key of a pipe (`rebound ingest-log -`): only its join state is resumed,
/// since a pipe's offsets start over with every run.
pub const PIPE_KEY: &str = "pipe";

impl Pipeline {
    /// Reads a stream (standard input: PowerMTA's `acct-file |command`) to its end,
    /// committing what each read brought.
    pub fn log_stream(
        &self,
        c: &mut AnyConnection,
        src: &LogSource,
        input: &mut dyn std::io::Read,
        progress: &mut dyn FnMut(u64, &LogStats),
    ) -> Result<LogStats, PassError> {
        let io = |source| PassError::Io { path: "standard input".into(), source };
        let saved = logged::get(c, &src.source, PIPE_KEY).map_err(IngestError::from)?;
        let state: JoinState =
            saved.as_ref().and_then(|s| serde_json::from_str(&s.join_state).ok()).unwrap_or_default();
        let mut reader =
            Reader::resume(src.options.clone(), Checkpoint { format: src.format, offset: 0, line: 0, state });
        let id = FileId { key: PIPE_KEY.into(), size: 0, compression: Compression::None };
        let mut total = LogStats::default();
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut base = 0u64;
        loop {
            let n = match input.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(e)),
            };
            pending.extend_from_slice(&buf[..n]);
            let mut entries = Vec::new();
            let used = reader.feed(&pending, &mut entries);
            let consumed = if n == 0 {
                reader.finish(&pending[used..], &mut entries);
                pending.len()
            } else {
                used
            };
            if consumed > 0 || !entries.is_empty() {
                let at = reader.checkpoint().offset;
                let batch = batch_of(src, &id, "-", at as i64, &pending, base, entries, reader.checkpoint());
                let stats = self.ingest_log(c, src.format, &src.context, &batch)?;
                total.add(&stats);
                progress(consumed as u64, &total);
                pending.drain(..consumed);
                base += consumed as u64;
            }
            if n == 0 {
                return Ok(total);
            }
        }
    }
}
