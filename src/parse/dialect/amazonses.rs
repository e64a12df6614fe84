//! Amazon SES / WorkMail: DSNs from amazonses.com hosts, and SNS JSON notifications
//! ("notificationType": Bounce / Complaint / Delivery) mailed to a subscriber.

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::text::{find_reply_code, find_status, normalize_address};
use crate::parse::types::{Kind, Reason, Record};

pub const DIALECT: Dialect = Dialect { name: "amazonses", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.from_lower.contains("amazonses.com")
        || m.text.contains("\"notificationType\"")
        || m.text.contains("\\\"notificationType\\\"")
}

fn parse(m: &Mail) -> Vec<Record> {
    match json_records(m) {
        Some(v) if !v.is_empty() => v,
        _ => scan(m, "amazonses", &["following recipients", "technical report"]),
    }
}

/// SES event JSON: either the body itself or the "Message" string of an SNS envelope.
fn json_records(m: &Mail) -> Option<Vec<Record>> {
    let start = m.text.find('{')?;
    let end = m.text.rfind('}')?;
    let raw = m.text.get(start..=end)?;
    // Mail transport may have wrapped the long JSON line inside a string: unwrap and retry.
    let v: serde_json::Value =
        serde_json::from_str(raw).or_else(|_| serde_json::from_str(&raw.replace("\n ", "").replace('\n', ""))).ok()?;
    let ev = match v.get("Message").and_then(|x| x.as_str()) {
        Some(s) => serde_json::from_str::<serde_json::Value>(s).ok()?,
        None => v,
    };
    let ntype = ev.get("notificationType").or_else(|| ev.get("eventType"))?.as_str()?.to_ascii_lowercase();
    let mut out = Vec::new();
    match ntype.as_str() {
        "bounce" => {
            let b = ev.get("bounce")?;
            let permanent = b.get("bounceType").and_then(|x| x.as_str()) != Some("Transient");
            for r in b.get("bouncedRecipients")?.as_array()? {
                let mut rec = Record::new("amazonses");
                rec.recipient = r.get("emailAddress").and_then(|x| x.as_str()).and_then(normalize_address);
                rec.diagnostic = r.get("diagnosticCode").and_then(|x| x.as_str()).map(str::to_string);
                rec.action = r.get("action").and_then(|x| x.as_str()).map(str::to_string);
                rec.status = r.get("status").and_then(|x| x.as_str()).and_then(find_status);
                rec.reply_code = rec.diagnostic.as_deref().and_then(find_reply_code);
                rec.kind = if permanent { Kind::Bounce } else { Kind::Delay };
                out.push(rec);
            }
        }
        "complaint" => {
            let c = ev.get("complaint")?;
            let ft = c.get("complaintFeedbackType").and_then(|x| x.as_str()).unwrap_or("abuse").to_string();
            for r in c.get("complainedRecipients")?.as_array()? {
                let rcpt = r.get("emailAddress").and_then(|x| x.as_str()).and_then(normalize_address);
                out.push(crate::parse::arf::complaint(rcpt, &ft, "amazonses", None));
            }
        }
        "delivery" => {
            let d = ev.get("delivery")?;
            let diag = d.get("smtpResponse").and_then(|x| x.as_str()).unwrap_or("");
            for r in d.get("recipients")?.as_array()? {
                let mut rec = Record::new("amazonses");
                rec.kind = Kind::Delivered;
                rec.reason = Reason::Delivered;
                rec.recipient = r.as_str().and_then(normalize_address);
                rec.diagnostic = Some(diag.to_string());
                rec.reply_code = find_reply_code(diag);
                rec.status = find_status(diag).or(Some("2.6.0".into()));
                rec.remote_mta = d.get("reportingMTA").and_then(|x| x.as_str()).map(str::to_string);
                out.push(rec);
            }
        }
        _ => {}
    }
    Some(out)
}
