//! The order-independent digest of the exact set a node holds: ONE definition, used by the
//! server when it says what a node should hold and by whatever renders or pulls the list.
//!
//! Definition (the node agent and any other implementation must follow it byte for byte):
//! 1. Each entry is the pair (address, scope) as the suppression list keys it: the address
//!    trimmed and lowercased (`suppress::normalize`), the scope `global` or a lowercased
//!    sending domain. The bytes hashed are `address`, one TAB (0x09), `scope`, in UTF-8.
//! 2. Per entry: SHA-256 of those bytes; its first 16 bytes read as a big-endian u128.
//! 3. The set's digest is the sum of the entries' values modulo 2^128, written as 32
//!    lowercase hex digits, always reported with the entry count beside it.
//!
//! A sum, not an XOR: adding an entry twice changes the digest (XOR would cancel it), and a
//! remove is the exact inverse of an add, so a node can keep the digest up to date change by
//! change without re-reading its whole set. The empty set is 32 zeros with count 0.

use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    sum: u128,
    count: u64,
}

fn value(address: &str, scope: &str) -> u128 {
    let mut h = Sha256::new();
    h.update(address.as_bytes());
    h.update(b"\t");
    h.update(scope.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&d[..16]);
    u128::from_be_bytes(first)
}

impl Checksum {
    pub fn add(&mut self, address: &str, scope: &str) {
        self.sum = self.sum.wrapping_add(value(address, scope));
        self.count += 1;
    }

    pub fn remove(&mut self, address: &str, scope: &str) {
        self.sum = self.sum.wrapping_sub(value(address, scope));
        self.count = self.count.saturating_sub(1);
    }

    /// Entries counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The 32 hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }

    /// Of a whole set, in any order.
    pub fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Checksum {
        let mut c = Checksum::default();
        for (a, s) in pairs {
            c.add(a, s);
        }
        c
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_equal_for_equal_sets_and_inverse() {
        let a = [("a@x.org", "global"), ("b@x.org", "global"), ("b@x.org", "brand.example")];
        let fwd = Checksum::of(a);
        let rev = Checksum::of(a.iter().rev().copied());
        assert_eq!(fwd, rev);
        assert_eq!(fwd.count(), 3);
        assert_ne!(fwd, Checksum::of(a[..2].iter().copied()));
        // The scope is part of the identity.
        assert_ne!(Checksum::of([("b@x.org", "global")]), Checksum::of([("b@x.org", "brand.example")]));
        let mut inc = fwd;
        inc.remove("b@x.org", "brand.example");
        assert_eq!(inc, Checksum::of(a[..2].iter().copied()));
        assert_eq!(Checksum::default().hex(), "0".repeat(32));
        // Pinned: an implementation elsewhere (the node agent) must give the same digits.
        assert_eq!(Checksum::of([("a@x.org", "global")]).hex(), value_hex("a@x.org\tglobal"));
    }

    fn value_hex(s: &str) -> String {
        let d = Sha256::digest(s.as_bytes());
        d[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}
