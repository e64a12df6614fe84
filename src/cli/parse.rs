//! `rebound parse [--json] PATH...`: what rebound makes of messages, without storing them.
//!
//! The JSON form is a contract other tools (and the corpus scorer) read: one object per
//! record with fixed keys, absent values as null.

use super::Failure;
use crate::classify::Engine;
use crate::config::Config;
use crate::fetch::files;
use crate::ingest::Evidence;
use crate::ingest::Pipeline;
use crate::parse::Kind;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;

/// The JSON objects for one message: one per record, or one `unknown` record.
pub fn json_records(file: &str, p: &Evidence) -> Vec<Value> {
    let r = &p.report;
    let original_mid = r.original.as_ref().and_then(|o| o.message_id.clone());
    if r.records.is_empty() {
        return vec![json!({
            "file": file, "index": 1, "kind": "unknown", "recipient": null, "status": null,
            "reply_code": null, "diagnostic": null, "action": null, "remote_mta": null,
            "reason": r.unknown_reason.clone().unwrap_or_else(|| "no records".into()),
            "classification": null, "permanent": null, "rule": null, "feedback_type": null, "dialect": r.dialect,
            "original_message_id": original_mid, "campaign_id": p.attribution.campaign,
        })];
    }
    r.records
        .iter()
        .zip(&p.classified)
        .enumerate()
        .map(|(i, (rec, c))| {
            json!({
                "file": file,
                "index": i + 1,
                "kind": rec.kind.as_str(),
                "recipient": rec.recipient.clone().or_else(|| p.attribution.recipient.clone()),
                "status": rec.status,
                "reply_code": rec.reply_code,
                "diagnostic": rec.diagnostic,
                "action": rec.action,
                "remote_mta": rec.remote_mta,
                "reason": c.reason,
                "classification": c.outcome.as_str(),
                "permanent": rec.permanent,
                "rule": if c.rule_key.is_empty() { None } else { Some(&c.rule_key) },
                "feedback_type": rec.feedback_type,
                "dialect": rec.dialect,
                "original_message_id": original_mid,
                "campaign_id": p.attribution.campaign,
            })
        })
        .collect()
}

fn human(out: &mut impl Write, file: &str, p: &Evidence) -> std::io::Result<()> {
    let r = &p.report;
    writeln!(out, "{file}: {} ({})", r.kind.as_str(), r.dialect)?;
    if r.kind == Kind::Unknown {
        writeln!(out, "  not a bounce: {}", r.unknown_reason.as_deref().unwrap_or("nothing could be parsed"))?;
    }
    for (rec, c) in r.records.iter().zip(&p.classified) {
        let who = rec.recipient.as_deref().or(p.attribution.recipient.as_deref()).unwrap_or("(no recipient)");
        let code = [rec.status.clone(), rec.reply_code.map(|c| c.to_string())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        writeln!(out, "  {who}: {} {} [{}] by rule {}", c.outcome.as_str(), c.reason, code, c.rule_key)?;
        if let Some(d) = &rec.diagnostic {
            writeln!(out, "    {d}")?;
        }
        if let Some(f) = &rec.feedback_type {
            writeln!(out, "    feedback type: {f}")?;
        }
    }
    if let Some(c) = &p.attribution.campaign {
        writeln!(out, "  campaign {c} (by {})", p.attribution.method.as_str())?;
    }
    Ok(())
}

/// Parses every message under `paths` with `engine`, printing as it goes.
pub fn run(cfg: &Config, engine: &Engine, paths: &[PathBuf], as_json: bool) -> Result<(), Failure> {
    let pipeline = Pipeline::new(cfg).map_err(|e| Failure::Run(e.into()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut errors = 0usize;
    files::walk(
        paths,
        &mut |name, part, raw| {
            let p = pipeline.prepare(engine, raw);
            if as_json {
                for mut v in json_records(name, &p) {
                    // Messages of one mbox share the file name; `message` tells them apart.
                    if let Some(k) = part {
                        v["message"] = k.into();
                    }
                    serde_json::to_writer(&mut out, &v)?;
                    out.write_all(b"\n")?;
                }
                Ok(())
            } else {
                let shown = part.map_or(name.to_string(), |k| format!("{name} (message {k})"));
                human(&mut out, &shown, &p)
            }
        },
        &mut |name, e| {
            errors += 1;
            eprintln!("error: cannot read {name}: {e}");
        },
    )
    .map_err(|e| Failure::Run(e.into()))?;
    out.flush().map_err(|e| Failure::Run(e.into()))?;
    if errors > 0 {
        return Err(Failure::Run(anyhow::anyhow!("{errors} path(s) could not be read")));
    }
    Ok(())
}
