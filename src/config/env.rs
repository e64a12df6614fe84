//! Environment overrides: `REBOUND__DATABASE__URL=...` sets `[database] url`.
//!
//! Segments are lower-cased and joined into a key path; a numeric segment indexes an array
//! of tables (`REBOUND__MAILBOX__0__HOST`). Values are read as TOML literals (`8`, `true`)
//! unless the key already holds a string, so `REBOUND__X__USERNAME=1234` stays text.

use toml::{Table, Value};

pub const PREFIX: &str = "REBOUND__";

/// Applies every `REBOUND__…` variable to `root`; returns the keys it set (for display)
/// and problems for variables that cannot be applied.
pub fn apply(root: &mut Table, vars: impl IntoIterator<Item = (String, String)>) -> (Vec<String>, Vec<super::Problem>) {
    let mut set = Vec::new();
    let mut problems = Vec::new();
    let mut vars: Vec<_> = vars.into_iter().filter(|(k, _)| k.starts_with(PREFIX)).collect();
    vars.sort();
    for (name, raw) in vars {
        let path: Vec<String> = name[PREFIX.len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.len() < 2 || path.iter().any(|s| s.is_empty()) {
            problems.push(super::Problem::new(
                name.clone(),
                "environment override must look like REBOUND__SECTION__KEY (double underscores)",
            ));
            continue;
        }
        match set_path(root, &path, &raw) {
            Ok(()) => set.push(path.join(".")),
            Err(msg) => problems.push(super::Problem::new(name.clone(), msg)),
        }
    }
    (set, problems)
}

fn literal(raw: &str, existing: Option<&Value>) -> Value {
    if matches!(existing, Some(Value::String(_))) {
        return Value::String(raw.to_string());
    }
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

fn set_path(root: &mut Table, path: &[String], raw: &str) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut cur: &mut Value = root.entry(parents[0].clone()).or_insert_with(|| Value::Table(Table::new()));
    for seg in &parents[1..] {
        cur = step(cur, seg)?;
    }
    match cur {
        Value::Table(t) => {
            let v = literal(raw, t.get(last));
            t.insert(last.clone(), v);
            Ok(())
        }
        _ => Err(format!("cannot set key `{last}`: its parent is not a table")),
    }
}

fn step<'a>(cur: &'a mut Value, seg: &str) -> Result<&'a mut Value, String> {
    if let Ok(i) = seg.parse::<usize>() {
        // A fresh section reached through an index becomes an array of tables.
        if matches!(cur, Value::Table(t) if t.is_empty()) {
            *cur = Value::Array(Vec::new());
        }
        if let Value::Array(a) = cur {
            if i > a.len() {
                return Err(format!("index {i} skips entries: the array has {} so far", a.len()));
            }
            if i == a.len() {
                a.push(Value::Table(Table::new()));
            }
            return Ok(&mut a[i]);
        }
    }
    match cur {
        Value::Table(t) => Ok(t.entry(seg.to_string()).or_insert_with(|| Value::Table(Table::new()))),
        _ => Err(format!("cannot descend into `{seg}`: not a table or array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn sets_nested_keys_with_typed_values() {
        let mut t: Table = "[database]\nurl = \"sqlite://a\"\n".parse().unwrap();
        let (set, problems) = apply(
            &mut t,
            vars(&[
                ("REBOUND__DATABASE__URL", "postgres://h/db"),
                ("REBOUND__DATABASE__POOL_SIZE", "3"),
                ("OTHER", "x"),
            ]),
        );
        assert!(problems.is_empty());
        assert_eq!(set, vec!["database.pool_size", "database.url"]);
        assert_eq!(t["database"]["url"].as_str(), Some("postgres://h/db"));
        assert_eq!(t["database"]["pool_size"].as_integer(), Some(3));
    }

    #[test]
    fn string_keys_stay_strings_and_arrays_are_indexed() {
        let mut t: Table = "[[mailbox]]\nusername = \"a\"\n".parse().unwrap();
        let (_, problems) =
            apply(&mut t, vars(&[("REBOUND__MAILBOX__0__USERNAME", "1234"), ("REBOUND__MAILBOX__1__HOST", "h")]));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(t["mailbox"][0]["username"].as_str(), Some("1234"));
        assert_eq!(t["mailbox"][1]["host"].as_str(), Some("h"));
    }

    #[test]
    fn malformed_names_are_reported() {
        let mut t = Table::new();
        let (_, problems) = apply(&mut t, vars(&[("REBOUND__DATABASE", "x"), ("REBOUND__MAILBOX__5__HOST", "h")]));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
