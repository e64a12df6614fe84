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

/// Messages a worker takes at a time: enough to make handing out cheap, few enough that the
/// two cores stay evenly busy to the end.
const PIECE: usize = 16;

/// Pieces read ahead of the output, per worker: room for a slow piece without making memory
/// grow with the input.
const AHEAD: usize = 8;

/// One message read: its name, its position inside an mbox, its bytes.
type Message = (String, Option<usize>, Vec<u8>);

/// What `rebound parse` sets up before anything else, the rules included: returned to
/// [`run`], which waits for it.
pub struct Started(std::thread::JoinHandle<()>);

/// Call first: the memory settings of a batch job, and the parser's tables built on a thread
/// of their own while this one loads the rules and the first messages are read (not by the
/// first worker while the others wait for it).
pub fn start() -> Started {
    // Pieces free what earlier ones allocated: reused, not handed back and re-zeroed. Before
    // the rules are read: with transparent huge pages still on, their first allocations had
    // the kernel zero a whole 2 MiB page (a third of the CPU time of a run over no files).
    crate::memory::keep_freed();
    Started(std::thread::spawn(crate::parse::warm))
}

/// Parses every message under `paths` with `engine`, printing in input order. A reader thread
/// walks and reads; every core parses and renders pieces of [`PIECE`] messages as they come;
/// this thread writes each piece's output as soon as those before it are written, so nobody
/// waits for a batch to fill or drain (see [`super::ordered`]).
pub fn run(cfg: &Config, engine: &Engine, paths: &[PathBuf], as_json: bool, started: Started) -> Result<(), Failure> {
    let pipeline = Pipeline::new(cfg).map_err(|e| Failure::Run(e.into()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    // Output buffers go back to the workers once written: one per piece in flight, reused.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let render = |msgs: Vec<Message>| -> std::io::Result<Vec<u8>> {
        let mut buf = spare.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        buf.clear();
        for (name, part, raw) in &msgs {
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
    let mut failed: Option<std::io::Error> = None;
    let write = |rendered: std::io::Result<Vec<u8>>| -> bool {
        match rendered.and_then(|buf| {
            out.write_all(&buf)?;
            spare.lock().unwrap_or_else(|p| p.into_inner()).push(buf);
            Ok(())
        }) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    };
    let read = |send: &mut dyn FnMut(Vec<Message>) -> bool| -> std::io::Result<usize> {
        let mut piece: Vec<Message> = Vec::with_capacity(PIECE);
        let mut errors = 0usize;
        let walked = files::walk(
            paths,
            &mut |name, part, raw| {
                piece.push((name.to_string(), part, raw));
                if piece.len() >= PIECE && !send(std::mem::replace(&mut piece, Vec::with_capacity(PIECE))) {
                    // The writer stopped on an error of its own, reported there.
                    return Err(std::io::Error::other("output closed"));
                }
                Ok(())
            },
            &mut |name, e| {
                errors += 1;
                eprintln!("error: cannot read {name}: {e}");
            },
        );
        if !piece.is_empty() {
            send(piece);
        }
        walked.map(|()| errors)
    };
    let walked = super::ordered::run(workers, workers * AHEAD, read, render, write);
    let _ = started.0.join();
    if let Some(e) = failed {
        return Err(Failure::Run(e.into()));
    }
    let errors = walked.map_err(|e| Failure::Run(e.into()))?;
    out.flush().map_err(|e| Failure::Run(e.into()))?;
    if errors > 0 {
        return Err(Failure::Run(anyhow::anyhow!("{errors} path(s) could not be read")));
    }
    Ok(())
}
