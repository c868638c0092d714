//! CPU time of the current thread, to count what the ticks' own work costs (the decision
//! core and the bookkeeping around it) apart from the time spent waiting on the network.
//!
//! Reading a thread's CPU clock is a system call (about 0.5-1 µs here, not served by the
//! vDSO as the wall clock is): read around every target-tick's work (four reads) it cost
//! about a tenth of what it measured. So one tick in [`SAMPLE_EVERY`] of each target is
//! measured, from its readings to its reports in one stretch (paused only across awaits on
//! the network), and counted that many times: every tick's work is still counted (in
//! expectation), at a sixteenth of the clock reads.

/// One tick in this many of a target is measured (and weighed this many times).
pub const SAMPLE_EVERY: u32 = 8;

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

/// Which of a target's ticks are measured: one in [`SAMPLE_EVERY`], at a phase of its own
/// so that targets started together are not all measured on the same tick.
#[derive(Debug, Clone, Copy)]
pub struct TickSampler {
    countdown: u32,
}

impl TickSampler {
    /// A sampler whose phase is taken from `seed` (any number that differs among targets).
    pub fn new(seed: u64) -> Self {
        Self {
            countdown: (seed % u64::from(SAMPLE_EVERY)) as u32,
        }
    }

    /// The meter of the next tick: measuring (and weighing its time [`SAMPLE_EVERY`] times)
    /// on one tick in [`SAMPLE_EVERY`], idle on the others.
    pub fn next_tick(&mut self) -> TickMeter {
        let weight = if self.countdown == 0 {
            self.countdown = SAMPLE_EVERY - 1;
            f64::from(SAMPLE_EVERY)
        } else {
            self.countdown -= 1;
            0.0
        };
        TickMeter {
            weight,
            running: None,
            seconds: 0.0,
        }
    }
}

/// One tick's CPU time over the stretches between [`TickMeter::resume`] and
/// [`TickMeter::pause`] (the synchronous work; paused across awaits on the network), read
/// only on a sampled tick.
#[derive(Debug)]
pub struct TickMeter {
    weight: f64,
    running: Option<f64>,
    seconds: f64,
}

impl TickMeter {
    /// Count from now on (no-op when running or on a tick that is not sampled).
    pub fn resume(&mut self) {
        if self.weight > 0.0 && self.running.is_none() {
            self.running = Some(thread_cpu_seconds());
        }
    }

    /// Stop counting (before an `.await` that may suspend).
    pub fn pause(&mut self) {
        if let Some(since) = self.running.take() {
            self.seconds += (thread_cpu_seconds() - since).max(0.0);
        }
    }

    /// The tick's estimated CPU seconds: what was measured times [`SAMPLE_EVERY`] on a
    /// sampled tick, 0 on the others.
    pub fn finish(mut self) -> f64 {
        self.pause();
        self.seconds * self.weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(x != 1);
    }

    #[test]
    fn busy_work_costs_cpu_time() {
        let start = thread_cpu_seconds();
        busy();
        assert!(thread_cpu_seconds() > start);
    }

    #[test]
    fn one_tick_in_eight_is_measured_and_weighed_eight_times() {
        let mut sampler = TickSampler::new(3);
        let mut measured = Vec::new();
        for tick in 0..2 * SAMPLE_EVERY {
            let mut meter = sampler.next_tick();
            meter.resume();
            let start = thread_cpu_seconds();
            busy();
            let spent = thread_cpu_seconds() - start;
            let counted = meter.finish();
            if counted > 0.0 {
                measured.push(tick);
                // The measured stretch holds the busy work, weighed SAMPLE_EVERY times.
                assert!(
                    counted >= spent * f64::from(SAMPLE_EVERY) * 0.5,
                    "{counted} vs {spent}"
                );
            }
        }
        assert_eq!(measured, [3, 3 + SAMPLE_EVERY]);
    }

    #[test]
    fn a_paused_meter_does_not_count_what_runs_meanwhile() {
        let mut sampler = TickSampler::new(0);
        let mut meter = sampler.next_tick();
        meter.resume();
        meter.pause();
        let before = meter.seconds;
        busy();
        assert_eq!(meter.seconds, before);
        meter.resume();
        busy();
        assert!(meter.finish() > before);
    }
}
