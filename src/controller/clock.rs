//! The controller's wall clock, as a parameter: decisions, the live report's hourly totals
//! and `updatedAt` read it, so a test can give every tick a time it knows.

use std::sync::Arc;

/// Unix time in seconds.
pub type Clock = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The system's clock (0 before 1970, which no real clock reports).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    })
}
