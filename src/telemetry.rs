//! Log output: `LOG_FORMAT=pretty|json`, filtered by `RUST_LOG` (default `info`), to stderr so
//! that commands such as `users create` print only their result on stdout. Lines are written by
//! a thread of their own, so a request never waits on the terminal or the log collector.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the subscriber; keep the guard until exit, when it flushes what is left.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Never drop a line: when the thread falls behind, the writer waits.
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    guard
}
