//! Header-style field blocks ("Name: value" lines, folded continuation lines), as found in
//! message/delivery-status and message/feedback-report bodies and in quoted header blocks.
//! Takes text, gives blocks of (name, value) pairs with folded lines joined by one space.
//! Never fails: lines that are not fields are skipped.

/// One block of fields, in order.
pub type Block = Vec<(String, String)>;

/// Split `text` at blank lines into field blocks; empty blocks are dropped.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Block = Vec::new();
    for line in crate::parse::text::split_lf(text) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Folded continuation of the previous field.
            if let Some((_, v)) = cur.last_mut() {
                let t = line.trim();
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(t);
            }
            continue;
        }
        if let Some((name, value)) = split_field(line) {
            cur.push((name.to_string(), value.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// "Name: value" -> (Name, value) when Name is a plausible field name.
pub fn split_field(line: &str) -> Option<(&str, &str)> {
    // The name's bytes up to the colon, at most 76 of them: a body line is given up on at
    // its first space instead of being searched whole for a colon.
    let b = line.as_bytes();
    let n = b.iter().take(77).take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b'_').count();
    if n == 0 || n > 76 || b.get(n) != Some(&b':') {
        return None;
    }
    Some((line.get(..n)?, line.get(n + 1..)?))
}

/// First value of field `name` (case-insensitive) in `block`.
pub fn get<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_and_blocks() {
        let b = blocks(
            "Reporting-MTA: dns; a.example\n\nFinal-Recipient: rfc822; x@example.com\nDiagnostic-Code: smtp; 550 no\n  such user\n",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(get(&b[1], "diagnostic-code"), Some("smtp; 550 no such user"));
    }

    #[test]
    fn field_names() {
        assert_eq!(split_field("X-Name_1: v: w"), Some(("X-Name_1", " v: w")));
        assert_eq!(split_field(": v"), None);
        assert_eq!(split_field("not a field: v"), None);
        assert_eq!(split_field("no colon"), None);
        let long = "a".repeat(76);
        assert!(split_field(&format!("{long}:")).is_some());
        assert!(split_field(&format!("{long}a:")).is_none());
    }
}
