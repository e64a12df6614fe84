//! Log files on disk: which file a path is (its identity survives a rename), what a `path`
//! setting (a file or a glob) names, and a file's bytes from an offset on, decompressed when
//! it is a rotated gzip or zstd segment.
//!
//! Takes paths; gives [`FileId`]s and byte chunks. It never parses a line (the [`Reader`]
//! does) and never stores anything.
//!
//! [`Reader`]: super::Reader

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Which file a path is, and how big it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    /// `dev:inode` for a plain file (a rename keeps it; copy-truncate shows as a size below
    /// the checkpoint); `sha256:…` of the first compressed bytes for a segment, which never
    /// changes once written.
    pub key: String,
    /// Plain bytes on disk (compressed: the compressed length until read).
    pub size: u64,
    pub compression: Compression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The identity of the file at `path`.
pub fn identify(path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    let mut head = vec![0u8; 4096];
    let n = read_full(&mut f, &mut head)?;
    head.truncate(n);
    let compression = if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else {
        Compression::None
    };
    let key = match compression {
        Compression::None => format!("{}:{}", meta.dev(), meta.ino()),
        _ => format!("sha256:{}", &crate::record::ledger::digest(&head)[..32]),
    };
    Ok(FileId { key, size: meta.len(), compression })
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The files a `path` setting names, oldest first (by modification time, then name): a
/// glob's matches, or the one file.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let paths = glob::glob(pattern).map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?;
    for p in paths.flatten() {
        if p.is_file() {
            let at = p.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            found.push((at, p));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// A file's bytes from `offset` on, in chunks. A compressed segment is decompressed as it
/// is read and its first `offset` decompressed bytes skipped.
pub struct Chunks {
    inner: Box<dyn Read + Send>,
}

impl Chunks {
    pub fn open(path: &Path, id: &FileId, offset: u64) -> std::io::Result<Chunks> {
        let mut f = std::fs::File::open(path)?;
        let mut inner: Box<dyn Read + Send> = match id.compression {
            Compression::None => {
                f.seek(SeekFrom::Start(offset))?;
                return Ok(Chunks { inner: Box::new(f) });
            }
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f))),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(f)?),
        };
        std::io::copy(&mut (&mut inner).take(offset), &mut std::io::sink())?;
        Ok(Chunks { inner })
    }

    /// Appends up to `max` more bytes to `buf`; 0 at the end of what is there now.
    pub fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
        let start = buf.len();
        buf.resize(start + max, 0);
        let n = read_full(&mut self.inner, &mut buf[start..]);
        buf.truncate(start + *n.as_ref().unwrap_or(&0));
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn rename_keeps_the_identity_and_a_compressed_copy_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("acct.csv");
        std::fs::write(&a, b"one\ntwo\nthree\n").unwrap();
        let id = identify(&a).unwrap();
        let b = dir.path().join("acct.csv.1");
        std::fs::rename(&a, &b).unwrap();
        assert_eq!(identify(&b).unwrap().key, id.key);

        let gz = dir.path().join("acct.csv.2.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        enc.write_all(b"one\ntwo\nthree\n").unwrap();
        enc.finish().unwrap();
        let gid = identify(&gz).unwrap();
        assert_eq!(gid.compression, Compression::Gzip);
        let mut c = Chunks::open(&gz, &gid, 4).unwrap();
        let mut buf = Vec::new();
        c.read_into(&mut buf, 100).unwrap();
        assert_eq!(buf, b"two\nthree\n");
        assert_eq!(expand(&format!("{}/acct.csv*", dir.path().display())).unwrap().len(), 2);
    }
}
