//! Where each MTA log source stands: its files, each file's checkpoint (offset, line,
//! records, unreadable lines, last read) and its lag (bytes on disk not read yet).
//!
//! Takes the `[[mta_log]]` entries and a connection; gives [`SourceStatus`] rows for `rebound
//! log list` and `GET /api/v1/logs`, with the API-managed sources after the file's. Sources
//! known only from their checkpoints
//! (`import:FORMAT`, a removed entry) are listed too. It reads file sizes, never file
//! contents, and writes nothing.

use crate::config::MtaLogConfig;
use crate::logs::file;
use crate::record::logged;
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use serde::Serialize;

/// One file of a source.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FileStatus {
    pub path: String,
    pub file_key: String,
    pub read_offset: i64,
    pub line: i64,
    /// The file's length now (the decompressed length read, for a compressed segment).
    pub size: i64,
    /// Bytes not read yet.
    pub lag_bytes: i64,
    pub records: i64,
    pub unreadable: i64,
    #[schema(value_type = Option<String>)]
    pub last_read_at: Option<NaiveDateTime>,
}

/// One source and its files.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceStatus {
    pub name: String,
    /// `log:NAME` (events' `source`), or `import:FORMAT`.
    pub source: String,
    pub format: String,
    pub path: Option<String>,
    pub node: Option<String>,
    pub enabled: bool,
    /// `config` for a `[[mta_log]]` entry, `api` for one created through the admin API,
    /// `checkpoints` for one known only from what it read.
    pub defined_in: String,
    pub files: Vec<FileStatus>,
    pub lag_bytes: i64,
    pub records: i64,
    pub unreadable: i64,
    #[schema(value_type = Option<String>)]
    pub last_read_at: Option<NaiveDateTime>,
    /// Why the path could not be listed, if it could not.
    pub error: Option<String>,
}

/// Every source, configured ones first in file order.
pub fn all(c: &mut AnyConnection, configured: &[MtaLogConfig]) -> Result<Vec<SourceStatus>, StoreError> {
    let checkpoints = logged::list(c, None)?;
    let mut out: Vec<SourceStatus> = configured.iter().map(|l| of_config(l, &checkpoints, "config")).collect();
    for l in super::log_sources::stored(c)? {
        if !configured.iter().any(|f| f.name == l.name) {
            out.push(of_config(&l, &checkpoints, "api"));
        }
    }
    let mut others: Vec<&logged::Checkpoint> =
        checkpoints.iter().filter(|cp| !out.iter().any(|s| s.source == cp.source)).collect();
    others.sort_by(|a, b| a.source.cmp(&b.source));
    for cp in others {
        if let Some(s) = out.iter_mut().find(|s| s.source == cp.source) {
            s.files.push(file_of(cp, None));
            continue;
        }
        out.push(SourceStatus {
            name: cp.source.split_once(':').map_or(cp.source.as_str(), |(_, n)| n).to_string(),
            source: cp.source.clone(),
            format: cp.format.clone(),
            path: None,
            node: None,
            enabled: false,
            defined_in: "checkpoints".into(),
            files: vec![file_of(cp, None)],
            lag_bytes: 0,
            records: 0,
            unreadable: 0,
            last_read_at: None,
            error: None,
        });
    }
    for s in &mut out {
        s.lag_bytes = s.files.iter().map(|f| f.lag_bytes).sum();
        s.records = s.files.iter().map(|f| f.records).sum();
        s.unreadable = s.files.iter().map(|f| f.unreadable).sum();
        s.last_read_at = s.files.iter().filter_map(|f| f.last_read_at).max();
    }
    Ok(out)
}

fn of_config(l: &MtaLogConfig, checkpoints: &[logged::Checkpoint], defined_in: &str) -> SourceStatus {
    let source = l.source();
    let mine: Vec<&logged::Checkpoint> = checkpoints.iter().filter(|c| c.source == source).collect();
    let mut files = Vec::new();
    let mut error = None;
    if l.path != "-" {
        match file::expand(&l.path) {
            Ok(paths) => {
                for p in paths {
                    let Ok(id) = file::identify(&p) else { continue };
                    let cp = mine.iter().find(|c| c.file_key == id.key);
                    let on_disk = (id.compression == file::Compression::None).then_some(id.size as i64);
                    files.push(match cp {
                        Some(cp) => FileStatus { path: p.display().to_string(), ..file_of(cp, on_disk) },
                        None => FileStatus {
                            path: p.display().to_string(),
                            file_key: id.key,
                            read_offset: 0,
                            line: 0,
                            size: id.size as i64,
                            lag_bytes: id.size as i64,
                            records: 0,
                            unreadable: 0,
                            last_read_at: None,
                        },
                    });
                }
            }
            Err(e) => error = Some(e),
        }
    }
    // Files read before that the path no longer names (rotated away, deleted).
    for cp in mine {
        if !files.iter().any(|f| f.file_key == cp.file_key) {
            files.push(FileStatus { lag_bytes: 0, ..file_of(cp, None) });
        }
    }
    SourceStatus {
        name: l.name.clone(),
        source,
        format: l.format.as_str().into(),
        path: Some(l.path.clone()),
        node: l.node.clone(),
        enabled: l.enabled,
        defined_in: defined_in.into(),
        files,
        lag_bytes: 0,
        records: 0,
        unreadable: 0,
        last_read_at: None,
        error,
    }
}

fn file_of(cp: &logged::Checkpoint, on_disk: Option<i64>) -> FileStatus {
    let size = on_disk.unwrap_or(cp.size);
    FileStatus {
        path: cp.path.clone(),
        file_key: cp.file_key.clone(),
        read_offset: cp.read_offset,
        line: cp.line_no,
        size,
        lag_bytes: (size - cp.read_offset).max(0),
        records: cp.records,
        unreadable: cp.unreadable,
        last_read_at: Some(cp.updated_at),
    }
}
