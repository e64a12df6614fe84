//! The allowlist: addresses and domains never suppressed (config plus database entries).

use crate::store::schema::allowlist;
use crate::store::{AnyConnection, StoreError};
use std::collections::HashSet;

#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: HashSet<String>,
}

impl Allowlist {
    /// The config entries plus the database's, lower-cased.
    pub fn load(c: &mut AnyConnection, configured: &[String]) -> Result<Allowlist, StoreError> {
        use diesel::prelude::*;
        let stored: Vec<String> = allowlist::table.select(allowlist::entry).load(c)?;
        Ok(Allowlist::from_entries(configured.iter().cloned().chain(stored)))
    }

    pub fn from_entries(entries: impl IntoIterator<Item = String>) -> Allowlist {
        Allowlist { entries: entries.into_iter().map(|e| e.trim().trim_start_matches('@').to_lowercase()).collect() }
    }

    /// Is the address, or its domain, or a parent domain of it, allowlisted?
    pub fn allows(&self, address: &str) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        if self.entries.contains(address) {
            return true;
        }
        let Some((_, mut domain)) = address.rsplit_once('@') else { return false };
        loop {
            if self.entries.contains(domain) {
                return true;
            }
            match domain.split_once('.') {
                Some((_, parent)) if parent.contains('.') => domain = parent,
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_domains_and_subdomains() {
        let a = Allowlist::from_entries(["VIP@example.com".to_string(), "@partner.example".to_string()]);
        assert!(a.allows("vip@example.com"));
        assert!(!a.allows("other@example.com"));
        assert!(a.allows("x@partner.example"));
        assert!(a.allows("x@mail.eu.partner.example"));
        assert!(!a.allows("x@example"));
    }
}
