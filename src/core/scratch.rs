//! The planner's working buffers, one set per thread.
//!
//! A tick fills a forecast path and its central rates (a lead window to hours of ticks) and
//! the ready times of starting pods. Kept in each target's state, they would hold up to a few
//! KB per target between ticks for nothing and sit cold in memory when its tick comes; one set
//! per thread, reused by every target the thread decides, stays warm in cache. They carry
//! nothing from one tick to the next: every use clears them first, so `decide` stays a pure
//! function of its arguments.

use std::cell::RefCell;

/// Buffers the planner fills afresh each tick.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The upper forecast, documents/s per tick.
    pub path: Vec<f64>,
    /// The central forecast, documents/s per tick.
    pub central: Vec<f64>,
    /// Starting pods: `(ready at, pods)`.
    pub ready_times: Vec<(f64, u32)>,
}

/// Most ticks a buffer keeps room for between ticks: a drain path at a short interval can be
/// tens of thousands of ticks long, and that room is not kept for the rest of the process.
const KEPT_TICKS: usize = 4096;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// This thread's buffers, taken out for one tick (a fresh set if they are in use).
pub(crate) fn take() -> Scratch {
    SCRATCH
        .with(|s| s.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)))
        .unwrap_or_default()
}

/// Give the buffers back for the next tick on this thread.
pub(crate) fn give_back(mut scratch: Scratch) {
    for v in [&mut scratch.path, &mut scratch.central] {
        if v.capacity() > KEPT_TICKS {
            v.clear();
            v.shrink_to(KEPT_TICKS);
        }
    }
    if scratch.ready_times.capacity() > KEPT_TICKS {
        scratch.ready_times.clear();
        scratch.ready_times.shrink_to(KEPT_TICKS);
    }
    SCRATCH.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = scratch;
        }
    });
}
