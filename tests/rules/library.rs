//! The shipped library: complete, valid, embedded, and sensible on the codes that matter.

use rebound::classify::library::{self, FILES};
use rebound::classify::{Engine, Facts, Field, GLOBAL_KEY, Op, Outcome};

/// Every enumerated code of the IANA "SMTP Enhanced Status Codes" registry (subject.detail),
/// from RFC 3463 and its updates (3886, 4468, 4954, 5248, 6531, 6710, 7293, 7372, 7505,
/// 8617, 8689).
const IANA: &[&str] = &[
    "0.0", "1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "1.10", "2.0", "2.1", "2.2", "2.3",
    "2.4", "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "4.0", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7",
    "5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "6.0", "6.1", "6.2", "6.3", "6.4", "6.5", "6.6", "6.7", "6.8",
    "6.9", "6.10", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.7", "7.8", "7.9", "7.10", "7.11", "7.12",
    "7.13", "7.14", "7.15", "7.16", "7.17", "7.18", "7.19", "7.20", "7.21", "7.22", "7.23", "7.24", "7.25", "7.26",
    "7.27", "7.28", "7.29", "7.30",
];

fn engine() -> Engine {
    Engine::new(library::defaults()).unwrap()
}

#[test]
fn every_iana_code_has_its_own_rule_in_both_classes() {
    let rules = library::defaults();
    let e = engine();
    for sd in IANA {
        for class in ["4", "5"] {
            let code = format!("{class}.{sd}");
            let has = rules.iter().any(|r| {
                r.when.len() == 1
                    && r.when[0].field == Field::Status
                    && r.when[0].op == Op::Is
                    && r.when[0].value.as_deref() == Some(code.as_str())
            });
            assert!(has, "no default rule for {code}");
            // And the engine really reaches it when nothing else is known.
            let f =
                Facts { status: Some(&code), kind: Some("bounce"), reason: Some("undefined"), ..Default::default() };
            let d = e.classify(&f).unwrap();
            assert_eq!(d.rule_key, format!("status-{code}"), "{code} decided by {}", d.rule_key);
            if class == "4" {
                assert_ne!(d.outcome, Outcome::Hard, "a transient {code} must never be hard");
            }
        }
    }
}

#[test]
fn every_file_in_default_rules_is_embedded_and_valid() {
    let mut on_disk: Vec<String> = std::fs::read_dir("default_rules")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, embedded, "default_rules/ and classify::library::FILES differ");
    for (name, text) in FILES {
        library::parse_file(name, text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    let rules = library::defaults();
    let mut keys: Vec<_> = rules.iter().map(|r| r.key.as_str()).collect();
    keys.sort();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "duplicate keys in the library");
    assert_eq!(rules.last().unwrap().key, GLOBAL_KEY, "the Global rule ships last");
}

#[test]
fn the_exceptions_that_matter() {
    let e = engine();
    let decide = |f: Facts| {
        let d = e.classify(&f).unwrap();
        (d.outcome, d.rule_key.to_string())
    };
    let bounce = |reason: &'static str, status: &'static str| Facts {
        kind: Some("bounce"),
        reason: Some(reason),
        status: Some(status),
        ..Default::default()
    };
    assert_eq!(decide(bounce("userunknown", "5.1.1")).0, Outcome::Hard);
    assert_eq!(decide(bounce("mailboxfull", "5.2.2")).0, Outcome::Soft, "full is never hard");
    assert_eq!(decide(bounce("blocked", "5.7.1")).0, Outcome::Ignore, "a sender block is not the address");
    assert_eq!(decide(bounce("authfailure", "5.7.26")).0, Outcome::Ignore);
    assert_eq!(decide(bounce("notaccept", "5.1.10")).0, Outcome::Hard);
    assert_eq!(decide(bounce("notaccept", "4.3.2")).0, Outcome::Soft);
    let complaint = |ft: &'static str| Facts { kind: Some("complaint"), feedback_type: Some(ft), ..Default::default() };
    assert_eq!(decide(complaint("abuse")).0, Outcome::Complaint);
    assert_eq!(decide(complaint("not-spam")).0, Outcome::Ignore);
    let autoreply = Facts { kind: Some("autoreply"), status: Some("5.1.1"), ..Default::default() };
    assert_eq!(decide(autoreply).0, Outcome::Ignore);
    // Provider wording without a usable code.
    let gmail = Facts {
        kind: Some("bounce"),
        reason: Some("undefined"),
        diagnostic: Some("550-5.1.1 The email account that you tried to reach does not exist."),
        ..Default::default()
    };
    assert_eq!(decide(gmail), (Outcome::Hard, "phrase-no-such-mailbox".to_string()));
    let nothing = Facts { kind: Some("bounce"), reason: Some("undefined"), ..Default::default() };
    assert_eq!(decide(nothing), (Outcome::Soft, GLOBAL_KEY.to_string()));
}
