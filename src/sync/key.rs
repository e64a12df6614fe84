//! What may be written to a node's file: a validated `local@domain` address, or a
//! domain-wide `@domain` entry. Everything else is refused here, before any renderer sees it.
//!
//! A line without `@` is a bare local part to PowerMTA (it matches that local part at every
//! domain), a line with spaces or a leading `#` is something else again to Postfix, and a
//! line break would smuggle in a second entry: so the one test all renderers go through only
//! accepts an atext local part (RFC 5322, plus non-ASCII for SMTPUTF8) and a domain of
//! non-empty labels, lowercased.

/// One entry as a node's file may hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `local@domain`, lowercased.
    Address(String),
    /// `domain`: every address at it (from an `@domain` entry).
    Domain(String),
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 255
        && d.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric()))
        })
}

fn valid_local(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 64
        && !l.starts_with(['#', '.'])
        && !l.ends_with('.')
        && !l.contains("..")
        && l.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || (!c.is_ascii() && c.is_alphanumeric())
        })
}

/// The key for a stored address, or None when it cannot be written safely.
pub fn classify(address: &str) -> Option<Key> {
    let a = address.to_lowercase();
    let (local, domain) = a.split_once('@')?;
    if !valid_domain(domain) {
        return None;
    }
    if local.is_empty() {
        return Some(Key::Domain(domain.to_string()));
    }
    valid_local(local).then_some(Key::Address(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_entries_are_refused() {
        assert_eq!(classify("Jane.Doe+x@Example.ORG"), Some(Key::Address("jane.doe+x@example.org".into())));
        assert_eq!(classify("@example.org"), Some(Key::Domain("example.org".into())));
        for bad in [
            "jane",
            "jane@",
            "",
            "@",
            "a@b@c.org",
            "a b@x.org",
            "a@x.org\nroot",
            "a@x..org",
            "#a@x.org",
            "a@-x.org",
            "a\t@x.org",
            "a@x.org ",
            "\"a\"@x.org",
            "a,b@x.org",
            "a@x_y.org",
        ] {
            assert_eq!(classify(bad), None, "{bad:?}");
        }
    }
}
