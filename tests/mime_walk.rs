//! The quicker multipart walk (`parse::mime`) gives mail-parser's own result on every
//! message it takes: the project's fixtures, cut and mangled copies of them, and the shared
//! corpus where it exists. A part that differs in type, decoded body or headers fails.

mod support;

use std::path::{Path, PathBuf};

use mail_parser::{Message, PartType};
use rebound::parse::{input, mail, mime};

/// Image parts are inline or not by rules `Mail` never reads; the body is what counts.
fn body<'a>(p: &'a PartType<'a>) -> std::borrow::Cow<'a, PartType<'a>> {
    match p {
        PartType::InlineBinary(b) => std::borrow::Cow::Owned(PartType::Binary(b.clone())),
        other => std::borrow::Cow::Borrowed(other),
    }
}

fn same(name: &str, fast: &Message, slow: &Message) {
    assert_eq!(fast.parts.len(), slow.parts.len(), "{name}: part count");
    for (i, (f, s)) in fast.parts.iter().zip(&slow.parts).enumerate() {
        assert_eq!(body(&f.body), body(&s.body), "{name}: body of part {i}");
        assert_eq!(f.headers, s.headers, "{name}: headers of part {i}");
        assert_eq!(f.offset_body, s.offset_body, "{name}: body offset of part {i}");
    }
}

/// Checks one input; true when the walk took it.
fn check(name: &str, raw: &[u8]) -> bool {
    let prep = input::prepare(raw);
    let b = prep.bytes.as_ref();
    let (fast, slow) = (mime::headers_only(b), mail::PARSER.parse_headers(b));
    assert_eq!(fast.is_some(), slow.is_some(), "{name}: headers only");
    if let (Some(f), Some(s)) = (&fast, &slow) {
        same(&format!("{name} (headers only)"), f, s);
        assert_eq!(f.root_part().raw_body_offset(), s.root_part().raw_body_offset(), "{name}");
    }
    let Some(fast) = mime::parse(b) else { return false };
    let slow = mail::PARSER.parse(b).unwrap_or_else(|| panic!("{name}: the walk parsed what mail-parser could not"));
    same(name, &fast, &slow);
    true
}

#[test]
fn fixtures_and_their_mutations() {
    let all = support::eml_files(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parse")));
    assert!(all.len() > 50, "fixtures missing");
    let (mut taken, mut tried) = (0, 0);
    for f in &all {
        let raw = std::fs::read(f).unwrap();
        let name = f.display().to_string();
        tried += 1;
        taken += usize::from(check(&name, &raw));
        // Truncated anywhere, a boundary line dropped, bytes flipped: either the walk gives
        // up or it agrees.
        for cut in [raw.len() / 3, raw.len() / 2, raw.len() * 9 / 10] {
            check(&format!("{name} cut at {cut}"), raw.get(..cut).unwrap_or(&raw));
        }
        let text = String::from_utf8_lossy(&raw);
        if let Some(line) = text.lines().find(|l| l.starts_with("--") && l.len() > 4) {
            check(&format!("{name} without {line}"), text.replacen(line, "", 1).as_bytes());
            check(&format!("{name} glued {line}"), text.replacen(&format!("\n{line}"), line, 1).as_bytes());
        }
        let mut flipped = raw.clone();
        for i in (0..flipped.len()).step_by(97) {
            flipped[i] ^= 0x20;
        }
        check(&format!("{name} flipped"), &flipped);
    }
    // Most bounces are multipart: the walk must be taking them, or it speeds nothing up.
    assert!(taken * 2 > tried, "the walk took only {taken} of {tried} fixtures");
}

#[test]
fn shared_corpus() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    let all = support::eml_files(&dir);
    if all.is_empty() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but the corpus is missing at {}", dir.display());
        return;
    }
    let taken = all.iter().filter(|f| check(&f.display().to_string(), &std::fs::read(f).unwrap())).count();
    eprintln!("the walk took {taken} of {} corpus emails", all.len());
    assert!(taken * 2 > all.len(), "the walk took only {taken} of {}", all.len());
}
