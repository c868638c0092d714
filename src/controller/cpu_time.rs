//! CPU time of the current thread, to count what the ticks' own work costs (the decision
//! core and the bookkeeping around it) apart from the time spent waiting on the network.

/// CPU seconds this OS thread has used so far (`CLOCK_THREAD_CPUTIME_ID`); 0 where the clock
/// is unavailable.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Measures the CPU time of a stretch of synchronous code on this thread (no `.await` that
/// may suspend in between, or another task's work would be counted).
pub struct CpuSpan(f64);

impl CpuSpan {
    /// Start measuring.
    pub fn start() -> Self {
        Self(thread_cpu_seconds())
    }

    /// CPU seconds since [`CpuSpan::start`].
    pub fn seconds(&self) -> f64 {
        (thread_cpu_seconds() - self.0).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_costs_cpu_time() {
        let span = CpuSpan::start();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(x != 1);
        assert!(span.seconds() > 0.0);
    }
}
