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

use std::io::Write;
use std::path::PathBuf;

/// One line of `rebound parse --json`: the contract scripts read (and the corpus scorers).
/// Fields in alphabetical order, as the output has always had them.
#[derive(serde::Serialize)]
struct JsonRecord<'a> {
    action: Option<&'a str>,
    campaign_id: Option<&'a str>,
    classification: Option<&'a str>,
    diagnostic: Option<&'a str>,
    dialect: &'a str,
    feedback_type: Option<&'a str>,
    file: &'a str,
    index: usize,
    kind: &'a str,
    /// Position inside an mbox: messages of one file share its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<usize>,
    original_message_id: Option<&'a str>,
    permanent: Option<bool>,
    reason: &'a str,
    recipient: Option<&'a str>,
    remote_mta: Option<&'a str>,
    reply_code: Option<u16>,
    rule: Option<&'a str>,
    status: Option<&'a str>,
}

/// Writes the JSON lines of one message: one per record, or one `unknown` record. Borrowed
/// fields, no intermediate `Value`: this is most of what `parse --json` does per message.
fn write_json(out: &mut Vec<u8>, file: &str, part: Option<usize>, p: &Evidence) -> std::io::Result<()> {
    let r = &p.report;
    let original_message_id = r.original.as_ref().and_then(|o| o.message_id.as_deref());
    let campaign_id = p.attribution.campaign.as_deref();
    let mut line = |rec: &JsonRecord| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, rec)?;
        out.push(b'\n');
        Ok(())
    };
    if r.records.is_empty() {
        return line(&JsonRecord {
            action: None,
            campaign_id,
            classification: None,
            diagnostic: None,
            dialect: r.dialect,
            feedback_type: None,
            file,
            index: 1,
            kind: "unknown",
            message: part,
            original_message_id,
            permanent: None,
            reason: r.unknown_reason.as_deref().unwrap_or("no records"),
            recipient: None,
            remote_mta: None,
            reply_code: None,
            rule: None,
            status: None,
        });
    }
    for (i, (rec, c)) in r.records.iter().zip(&p.classified).enumerate() {
        line(&JsonRecord {
            action: rec.action.as_deref(),
            campaign_id,
            classification: Some(c.outcome.as_str()),
            diagnostic: rec.diagnostic.as_deref(),
            dialect: rec.dialect,
            feedback_type: rec.feedback_type.as_deref(),
            file,
            index: i + 1,
            kind: rec.kind.as_str(),
            message: part,
            original_message_id,
            permanent: Some(rec.permanent),
            reason: &c.reason,
            recipient: rec.recipient.as_deref().or(p.attribution.recipient.as_deref()),
            remote_mta: rec.remote_mta.as_deref(),
            reply_code: rec.reply_code,
            rule: (!c.rule_key.is_empty()).then_some(c.rule_key.as_str()),
            status: rec.status.as_deref(),
        })?;
    }
    Ok(())
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

/// Messages parsed together: enough to keep every core busy, little enough that memory
/// stays flat however large the input.
const BATCH: usize = 512;

/// Messages a core takes from a batch at a time.
const PIECE: usize = 16;

/// One message read: its name, its position inside an mbox, its bytes.
type Message = (String, Option<usize>, Vec<u8>);

/// Parses every message under `paths` with `engine`, printing in input order. Reading is
/// sequential; parsing and rendering (the larger part of the work) run on all cores, a batch
/// at a time, each core rendering into a buffer of its own.
pub fn run(cfg: &Config, engine: &Engine, paths: &[PathBuf], as_json: bool) -> Result<(), Failure> {
    // Every batch frees what the last one allocated: reused, not handed back and re-zeroed.
    crate::memory::keep_freed();
    let pipeline = Pipeline::new(cfg).map_err(|e| Failure::Run(e.into()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut errors = 0usize;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let render = |msgs: &[Message]| -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(msgs.len() * 512);
        for (name, part, raw) in msgs {
            let p = pipeline.preview(engine, raw);
            if as_json {
                write_json(&mut buf, name, *part, &p)?;
            } else {
                let shown = part.map_or(name.to_string(), |k| format!("{name} (message {k})"));
                human(&mut buf, &shown, &p)?;
            }
        }
        Ok(buf)
    };
    let flush = |batch: &mut Vec<Message>, out: &mut dyn Write| -> std::io::Result<()> {
        if threads < 2 || batch.len() < 16 {
            out.write_all(&render(batch)?)?;
        } else {
            // Small pieces handed out in turn: a core that drew cheap messages takes more,
            // instead of waiting for the one that drew the large ones. Written in order.
            let pieces: Vec<&[Message]> = batch.chunks(PIECE).collect();
            let next = std::sync::atomic::AtomicUsize::new(0);
            let mut done: Vec<(usize, std::io::Result<Vec<u8>>)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some(piece) = pieces.get(i) else { break mine };
                                mine.push((i, render(piece)));
                            }
                        })
                    })
                    .collect();
                handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
            });
            done.sort_unstable_by_key(|(i, _)| *i);
            for (_, part) in done {
                out.write_all(&part?)?;
            }
        }
        batch.clear();
        Ok(())
    };
    // A reader thread walks and reads ahead one batch while the cores parse the last one.
    type Batch = Vec<Message>;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
    let walked = std::thread::scope(|s| -> std::io::Result<()> {
        // The parser's tables are built while the first batch is read, not by the first
        // parsing thread while the others wait for it.
        s.spawn(crate::parse::warm);
        let reader = s.spawn(move || {
            let mut batch: Batch = Vec::with_capacity(BATCH);
            let mut errors = 0usize;
            let walked = files::walk(
                paths,
                &mut |name, part, raw| {
                    batch.push((name.to_string(), part, raw.to_vec()));
                    if batch.len() >= BATCH {
                        // The receiver only goes away on a write error, reported there.
                        let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                    }
                    Ok(())
                },
                &mut |name, e| {
                    errors += 1;
                    eprintln!("error: cannot read {name}: {e}");
                },
            );
            let _ = tx.send(batch);
            walked.map(|()| errors)
        });
        for mut batch in rx {
            flush(&mut batch, &mut out)?;
        }
        errors = reader.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        Ok(())
    });
    walked.map_err(|e| Failure::Run(e.into()))?;
    out.flush().map_err(|e| Failure::Run(e.into()))?;
    if errors > 0 {
        return Err(Failure::Run(anyhow::anyhow!("{errors} path(s) could not be read")));
    }
    Ok(())
}
