//! One renderer per target: the node's set in the MTA's own format, staged under temporary
//! names (see [`super::atomic`]) and never installed by the renderer itself.
//!
//! Takes the node's settings, its destination path and its entries — (address, scope)
//! pairs in address order, as [`super::set`] reads them — and gives the staged files with
//! what was written. Each entry goes through [`super::key::classify`] once, here: a
//! renderer only ever sees a validated address or domain. The checksum is taken over every
//! pair read (the set the node follows), whatever the target can express.

mod exim;
mod file;
mod haraka;
mod kumomta;
mod postfix;
mod powermta;

use super::atomic::{ApplyError, Staged};
use super::checksum::Checksum;
use super::key::{Key, classify};
use crate::config::{NodeConfig, Target};
use std::path::Path;

/// The entries of one apply, read once, in order.
pub struct Input<'a> {
    pairs: &'a mut dyn Iterator<Item = (String, String)>,
    pub checksum: Checksum,
    /// Addresses that cannot be written safely (see [`classify`]), or that the target has no
    /// way to express (domain-wide entries in Haraka's list).
    pub skipped: u64,
    /// Keys written.
    pub written: u64,
    last: Option<String>,
}

/// One pair; `first` is true for the first pair of its address.
pub struct Entry {
    pub key: Key,
    pub scope: String,
    pub first: bool,
}

impl<'a> Input<'a> {
    pub fn new(pairs: &'a mut dyn Iterator<Item = (String, String)>) -> Self {
        Self { pairs, checksum: Checksum::default(), skipped: 0, written: 0, last: None }
    }

    /// The next writable pair.
    pub fn next_entry(&mut self) -> Option<Entry> {
        loop {
            let (address, scope) = self.pairs.next()?;
            self.checksum.add(&address, &scope);
            let first = self.last.as_deref() != Some(address.as_str());
            let key = classify(&address);
            if first {
                self.last = Some(address);
            }
            match key {
                Some(key) => return Some(Entry { key, scope, first }),
                None if first => self.skipped += 1,
                None => {}
            }
        }
    }

    /// The next distinct key (an address in several scopes is one line of most formats).
    pub fn next_key(&mut self) -> Option<Key> {
        loop {
            let e = self.next_entry()?;
            if e.first {
                return Some(e.key);
            }
        }
    }
}

/// What one apply wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    pub checksum: Checksum,
    pub written: u64,
    pub skipped: u64,
}

/// Writes `path` (and its index or companion files) for `node` under temporary names.
pub fn stage(
    node: &NodeConfig,
    path: &Path,
    pairs: &mut dyn Iterator<Item = (String, String)>,
) -> Result<(Staged, Rendered), ApplyError> {
    let mut input = Input::new(pairs);
    let staged = match node.target {
        Target::Postfix => postfix::stage(node, path, &mut input)?,
        Target::Exim => exim::stage(node, path, &mut input)?,
        Target::Powermta => powermta::stage(node, path, &mut input)?,
        Target::Kumomta => kumomta::stage(node, path, &mut input)?,
        Target::Haraka => haraka::stage(path, &mut input)?,
        Target::File => file::stage(node, path, &mut input)?,
    };
    Ok((staged, Rendered { checksum: input.checksum, written: input.written, skipped: input.skipped }))
}
