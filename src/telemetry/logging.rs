//! The tracing subscriber: JSON lines on stderr, filtered by `RUST_LOG` (default
//! [`DEFAULT_FILTER`]).

use tracing_subscriber::EnvFilter;

/// `info`, without kube's client logging every failed request at `error`: prescale reports
/// each failing call itself, once per change of state, so an unreachable API server does not
/// print a line per target per tick.
pub const DEFAULT_FILTER: &str = "info,kube_client::client::builder=off";

/// Install the global JSON subscriber. Calling it twice is harmless (the second call is a
/// no-op), which keeps tests that start the controller in-process simple.
pub fn init_tracing() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}
