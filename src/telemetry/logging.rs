//! The tracing subscriber: JSON lines on stderr, filtered by `RUST_LOG` (default
//! [`DEFAULT_FILTER`]), written by a thread of their own.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// `info`, without kube's client logging every failed request at `error`: prescale reports
/// each failing call itself, once per change of state, so an unreachable API server does not
/// print a line per target per tick.
pub const DEFAULT_FILTER: &str = "info,kube_client::client::builder=off";

/// Lines formatted but not yet written, at most: past it, a logging thread waits (no line
/// is dropped). The queue's slots are allocated up front (32 bytes each): 16,384 is a
/// start-up's first decision line for 10,000 targets and more, in half a MiB.
const LINES_QUEUED: usize = 16_384;

/// Bytes gathered into one write to stderr: the writer thread writes what is queued at once
/// and flushes whenever the queue is empty, so a line is never held back.
const WRITE_BUFFER: usize = 64 * 1024;

/// Keeps the log writer thread running; dropping it writes out every line still queued
/// (waiting up to a second). Hold it until the process is done logging.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
}

/// Install the global JSON subscriber. Lines are formatted where they are logged and
/// written to stderr by a thread of their own: a tick that logs a decision never waits on a
/// write to a slow pipe or disk (at 10,000 targets the write itself was a fifth of the
/// ticks' CPU; `benches/controller.rs`). Calling it twice is harmless (the second call
/// installs nothing and its guard holds nothing), which keeps tests that start the
/// controller in-process simple.
pub fn init_tracing() -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let stderr = std::io::BufWriter::with_capacity(WRITE_BUFFER, std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LINES_QUEUED)
        .thread_name("prescale-log")
        .finish(stderr);
    let installed = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_current_span(false)
        .try_init();
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}
