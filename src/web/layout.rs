//! What every page shares: the [`Chrome`] (who is signed in, their CSRF token, the menu),
//! display helpers, and the security headers on every answer.

use super::session::Signed;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use chrono::NaiveDateTime;

/// The frame of a page: the menu with `nav` marked, the signed-in name and role, a notice.
pub struct Chrome {
    pub user: String,
    pub role: &'static str,
    /// Whether write controls are shown (the server refuses a viewer's writes anyway).
    pub admin: bool,
    pub csrf: String,
    pub nav: &'static str,
    pub notice: Option<String>,
}

/// The menu: (path, label, key).
pub const MENU: &[(&str, &str, &str)] = &[
    ("/", "Overview", "overview"),
    ("/mailboxes", "Mailboxes", "mailboxes"),
    ("/campaigns", "Campaigns", "campaigns"),
    ("/stats", "Statistics", "stats"),
    ("/rules", "Rules", "rules"),
    ("/suppression", "Suppression", "suppression"),
    ("/review", "Review queue", "review"),
    ("/alerts", "Alerts", "alerts"),
    ("/audit", "Audit log", "audit"),
    ("/settings", "Settings", "settings"),
];

impl Chrome {
    pub fn of(s: &Signed, nav: &'static str) -> Chrome {
        Chrome {
            user: s.principal.name.clone(),
            role: s.principal.role.as_str(),
            admin: s.admin(),
            csrf: s.csrf.clone(),
            nav,
            notice: None,
        }
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Chrome {
        self.notice = notice.filter(|n| !n.is_empty());
        self
    }

    pub fn menu(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        MENU
    }
}

/// A time as pages show it (UTC, to the second).
pub fn when(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn when_opt(t: &Option<NaiveDateTime>) -> String {
    t.as_ref().map(when).unwrap_or_else(|| "—".into())
}

/// A rate as a percentage with two decimals, or a dash without a denominator.
pub fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.2} %", r * 100.0)).unwrap_or_else(|| "—".into())
}

/// `path?k=v&…` with the non-empty pairs, url-encoded.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() { path.to_string() } else { format!("{path}?{q}") }
}

/// A path segment, percent-encoded (campaign ids and addresses may hold `/`, `@`, `+`).
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// Every web answer: nothing from outside the binary may load (CSP `'self'` only, no inline
/// script), no framing, no sniffing, no caching of pages that show data.
pub async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
