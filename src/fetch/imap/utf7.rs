//! Modified UTF-7 (RFC 3501 §5.1.3): how IMAP spells mailbox names that are not ASCII.
//! Config holds folder names in UTF-8; every name sent to the server goes through [`encode`].
//!
//! Written here rather than taken from `utf7-imap` (the one crate for it): unmaintained since
//! 2022, it pulls in regex, base64 and encoding_rs for some forty lines, passes DEL (0x7f)
//! through unencoded, and panics on malformed input where it decodes.

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// A UTF-8 mailbox name as the server wants it: printable ASCII as is (`&` as `&-`), every
/// other run as `&` + modified base64 of its UTF-16BE + `-`.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            shift_out(&mut out, &mut run);
            if c == '&' { out.push_str("&-") } else { out.push(c) }
        } else {
            run.extend_from_slice(c.encode_utf16(&mut [0; 2]));
        }
    }
    shift_out(&mut out, &mut run);
    out
}

/// Writes a pending run of non-ASCII UTF-16 units as `&…-` and empties it.
fn shift_out(out: &mut String, run: &mut Vec<u16>) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.drain(..).flat_map(u16::to_be_bytes).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        // 1, 2 or 3 bytes take 2, 3 or 4 characters; no padding.
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out.push('-');
}

/// A name as the server spells it back in UTF-8; `None` when it is not valid modified UTF-7.
/// Nothing lists folders yet (names come only from config), so only the tests read names back.
#[cfg(test)]
pub fn decode(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        if end == 0 {
            out.push('&');
        } else {
            let (mut bits, mut nbits, mut bytes) = (0u32, 0u32, Vec::new());
            for c in after[..end].bytes() {
                bits = bits << 6 | BASE64.iter().position(|&b| b == c)? as u32;
                nbits += 6;
                if nbits >= 8 {
                    nbits -= 8;
                    bytes.push((bits >> nbits) as u8);
                    bits &= (1 << nbits) - 1;
                }
            }
            // Whole UTF-16 units, and no stray bits left over.
            if bytes.is_empty() || bytes.len() % 2 != 0 || bits != 0 {
                return None;
            }
            let units = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                out.push(c.ok()?);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_examples_round_trip() {
        for (utf8, wire) in [
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("&", "&-"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("INBOX", "INBOX"),
            ("Bounces.Rückläufer", "Bounces.R&APw-ckl&AOQ-ufer"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            // Outside the BMP: a surrogate pair.
            ("📬", "&2D3c7A-"),
            ("tab\there", "tab&AAk-here"),
        ] {
            assert_eq!(encode(utf8), wire, "{utf8}");
            assert_eq!(decode(wire).as_deref(), Some(utf8), "{wire}");
        }
    }

    #[test]
    fn malformed_names_do_not_decode() {
        for bad in ["&U,BTFw", "&A-", "&!!-", "&2D0-"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
