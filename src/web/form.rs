//! Form helpers: API problems by field (shown next to the field they concern).

use crate::api::ApiError;
use std::collections::BTreeMap;

/// An API error split into what belongs next to fields and what is said above the form.
#[derive(Debug, Default)]
pub struct Problems {
    pub fields: BTreeMap<String, String>,
    pub general: Option<String>,
}

impl Problems {
    pub fn of(e: &ApiError) -> Problems {
        let mut fields = BTreeMap::new();
        for p in &e.problems {
            // `folders[1]` belongs to `folders`; several problems of a field join.
            let field = p.field.split(['[', '.']).next().unwrap_or(&p.field).to_string();
            fields
                .entry(field)
                .and_modify(|m: &mut String| m.push_str(&format!("; {}", p.message)))
                .or_insert_with(|| p.message.clone());
        }
        let general = if e.problems.is_empty() { Some(e.message.clone()) } else { None };
        Problems { fields, general }
    }

    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    /// One problem the caller found before asking the API.
    pub fn one(field: &str, message: impl Into<String>) -> Problems {
        Problems { fields: BTreeMap::from([(field.to_string(), message.into())]), general: None }
    }
}

/// A checkbox's value: present means on.
pub fn checked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty() && v != "off" && v != "false")
}
