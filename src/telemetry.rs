//! Logging: tracing to stderr, human-readable by default or JSON lines on request.
//!
//! Takes `[log]`; `RUST_LOG` overrides the configured level. Never panics if a subscriber
//! is already installed (tests build many apps in one process).

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        // The scheduler crate logs every job it creates at info: keep it to warnings.
        .or_else(|_| EnvFilter::builder().parse(format!("{},tokio_cron_scheduler=warn", cfg.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
