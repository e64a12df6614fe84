//! Logging: tracing to stderr, human-readable by default (coloured only on a terminal) or
//! JSON lines on request.
//!
//! Takes `[log]`; `RUST_LOG` overrides the configured level. Gives one subscriber that also
//! receives the `log` records of dependencies. It never lets a dependency's wire dump
//! through, whatever the level or `RUST_LOG` says (see [`wire_dump`]). Never panics if a
//! subscriber is already installed (tests build many apps in one process).

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt, registry};

pub fn init(cfg: &LogConfig) {
    let levels = EnvFilter::try_from_default_env()
        // The scheduler crate logs every job it creates at info: keep it to warnings.
        .or_else(|_| EnvFilter::builder().parse(format!("{},tokio_cron_scheduler=warn", cfg.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // A per-layer filter ANDed with the levels: a RUST_LOG directive can widen the levels
    // but cannot undo this one.
    let filter = levels.and(filter_fn(|meta| !wire_dump(meta.target())));
    // Colours only for a person at a terminal: `make run > file` must not fill the file
    // with escape codes.
    let layer = fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let _ = match cfg.format {
        LogFormat::Human => registry().with(layer.with_filter(filter)).try_init(),
        LogFormat::Json => registry().with(layer.json().flatten_event(true).with_filter(filter)).try_init(),
    };
}

/// Targets whose events are copies of what crosses the wire, never shown at any level.
/// async-imap traces every command it encodes (`LOGIN "user" "password"`, AUTHENTICATE
/// blobs) and every buffer it decodes (whole messages); it logs nothing else, and its errors
/// reach us as values anyway. The whole crate is dropped so a new log call in a later
/// version cannot bring the password back.
fn wire_dump(target: &str) -> bool {
    target == "async_imap" || target.starts_with("async_imap::")
}

#[cfg(test)]
mod tests {
    use super::wire_dump;

    #[test]
    fn only_the_imap_wire_is_dropped() {
        assert!(wire_dump("async_imap::imap_stream"));
        assert!(wire_dump("async_imap"));
        assert!(!wire_dump("async_imap_extra"));
        assert!(!wire_dump("rebound::fetch::imap"));
    }
}
