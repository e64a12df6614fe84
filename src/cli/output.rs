//! Table, CSV and JSON output for the list commands.

use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
}

/// Prints `rows` with `headers`; `cells` gives each row's table/CSV cells.
pub fn print<T: Serialize>(
    format: Format,
    headers: &[&str],
    rows: &[T],
    cells: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(headers)?;
            for r in rows {
                w.write_record(cells(r))?;
            }
            w.flush()?;
        }
        Format::Table => {
            let body: Vec<Vec<String>> = rows.iter().map(&cells).collect();
            let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
            for row in &body {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count().min(60));
                }
            }
            let line = |cells: Vec<String>| {
                let parts: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| {
                        let c: String = if c.chars().count() > 60 {
                            c.chars().take(59).chain(['…']).collect()
                        } else {
                            c.clone()
                        };
                        format!("{c:<w$}")
                    })
                    .collect();
                parts.join("  ").trim_end().to_string()
            };
            writeln!(out, "{}", line(headers.iter().map(|h| h.to_uppercase()).collect()))?;
            for row in body {
                writeln!(out, "{}", line(row))?;
            }
        }
    }
    Ok(())
}

pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// Times as operators read them: UTC, to the second.
pub fn time(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn opt_time(t: &Option<chrono::NaiveDateTime>) -> String {
    t.as_ref().map(time).unwrap_or_default()
}
