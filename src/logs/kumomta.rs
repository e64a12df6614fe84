//! KumoMTA log records: one JSON object a line (the files are usually zstd segments; see
//! [`super::file_bytes`]). `type` says what happened: `Delivery`, `TransientFailure`,
//! `Bounce`, `AdminBounce`, `OOB` (a bounce received later), `Expiration` and `Feedback` are
//! recipient outcomes; `Reception` and others give nothing. The peer's reply is in
//! `response` (`code`, `enhanced_code` {class, subject, detail}, `content`), the receiving
//! host in `peer_address` {name, addr}, the provenance in `egress_pool`, `egress_source`,
//! `source_address`, `queue`, `id`, `nodeid`; `bounce_classification`, `headers` and `meta`
//! are kept as they are.

use super::Options;
use super::record::{Entry, Kind, LogRecord, Position, Unreadable, non_empty};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub(super) fn line(options: &Options, line: &[u8], pos: Position, out: &mut Vec<Entry>) {
    let v: Value = match serde_json::from_slice(line) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return out.push(Err(Unreadable::new(pos, line, "a JSON value that is not an object"))),
        Err(e) => return out.push(Err(Unreadable::new(pos, line, format!("not JSON: {e}")))),
    };
    let s = |key: &str| v.get(key).and_then(Value::as_str).and_then(non_empty);
    let kind = match v.get("type").and_then(Value::as_str) {
        Some("Delivery") => Kind::Delivered,
        Some("TransientFailure") => Kind::Deferred,
        Some("Bounce" | "AdminBounce" | "OOB") => Kind::Bounced,
        Some("Expiration") => Kind::Expired,
        Some("Feedback") => Kind::Complained,
        Some(_) => return,
        None => return out.push(Err(Unreadable::new(pos, line, "no \"type\" in the record"))),
    };
    let Some(recipient) = s("recipient") else {
        return out.push(Err(Unreadable::new(pos, line, "no \"recipient\" in the record")));
    };
    let Some(time) = v.get("timestamp").and_then(time) else {
        return out.push(Err(Unreadable::new(pos, line, "no readable \"timestamp\" (Unix seconds or RFC 3339)")));
    };
    let mut r = LogRecord::new(kind, recipient, time, pos);
    r.sender = v.get("sender").and_then(Value::as_str).map(str::to_string);
    if let Some(resp) = v.get("response") {
        let code = resp.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok());
        let content = resp.get("content").and_then(Value::as_str).unwrap_or_default();
        if let Some(e) = resp.get("enhanced_code").filter(|e| e.is_object()) {
            let part = |k| e.get(k).and_then(Value::as_u64).map(|n| n.to_string()).unwrap_or_default();
            r.status = Some(format!("{}.{}.{}", part("class"), part("subject"), part("detail")));
        }
        r.reply_code = code;
        let text = match code {
            Some(c) if !content.is_empty() => match &r.status {
                Some(st) => format!("{c} {st} {content}"),
                None => format!("{c} {content}"),
            },
            _ => content.to_string(),
        };
        r.set_reply(&text);
    }
    if let Some(peer) = v.get("peer_address") {
        r.remote_host = peer.get("name").and_then(Value::as_str).and_then(non_empty);
        r.remote_ip = peer.get("addr").and_then(Value::as_str).map(strip_port).and_then(non_empty);
    }
    let p = &mut r.provenance;
    p.node = s("nodeid").or_else(|| options.node.clone());
    p.vmta = s("egress_source");
    p.vmta_pool = s("egress_pool");
    p.source_ip = v
        .get("source_address")
        .and_then(|a| a.get("address").and_then(Value::as_str).or(a.as_str()))
        .map(strip_port)
        .and_then(non_empty);
    p.queue_id = s("id");
    p.queue = s("queue");
    if let Some(Value::Object(h)) = v.get("headers") {
        r.headers = h.iter().filter_map(|(k, v)| Some((k.clone(), scalar(v)?))).collect();
    }
    if let Some(c) = s("bounce_classification") {
        r.facts.push(("bounce_classification".into(), c));
    }
    if let Some(site) = s("site") {
        r.facts.push(("site".into(), site));
    }
    if let Some(Value::Object(m)) = v.get("meta") {
        r.facts.extend(m.iter().filter_map(|(k, v)| Some((format!("meta.{k}"), scalar(v)?))));
    }
    out.push(Ok(r));
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `192.0.2.1:25` → `192.0.2.1`; `[2001:db8::1]:25` → `2001:db8::1`; a bare address as is.
fn strip_port(a: &str) -> &str {
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match a.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip,
        _ => a,
    }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => {
            let secs = n.as_f64()?;
            DateTime::from_timestamp(secs.trunc() as i64, (secs.fract() * 1e9) as u32)
        }
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_off_addresses() {
        assert_eq!(strip_port("192.0.2.1:25"), "192.0.2.1");
        assert_eq!(strip_port("[2001:db8::1]:25"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }
}
