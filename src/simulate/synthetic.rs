//! The built-in synthetic scenario: ten days of a document-processing service, generated
//! deterministically so `prescale simulate` needs no files and always prints the same table.
//!
//! Shape: a business-hours double peak (late morning and mid-afternoon, a lunch dip), quiet
//! nights, a weekend at a third of the weekday load, day-to-day variation, Poisson counts per
//! minute, and one burst (a batch upload) on the fourth day.

use super::Trace;

/// The name the scenario carries in every output.
pub const SYNTHETIC_NAME: &str = "synthetic";

/// Days generated (a Monday first; days 5 and 6 are the weekend).
pub const DAYS: u64 = 10;

/// Interval of the generated trace, seconds.
pub const STEP_S: u64 = 60;

/// The PRNG seed: fixed, so the scenario is the same on every machine and every run.
const SEED: u64 = 0x5052_4553_4341_4c45; // "PRESCALE"

const MINUTES_PER_DAY: u64 = 1440;

/// Generate the scenario.
pub fn trace() -> Trace {
    let mut rng = SplitMix64(SEED);
    let day_factors: Vec<f64> = (0..DAYS).map(|_| 0.9 + 0.2 * rng.unit()).collect();
    let values = (0..DAYS * MINUTES_PER_DAY)
        .map(|minute| {
            let day = minute / MINUTES_PER_DAY;
            let hour = (minute % MINUTES_PER_DAY) as f64 / 60.0;
            let mean = mean_per_minute(day, hour, day_factors[day as usize]);
            poisson(&mut rng, mean)
        })
        .collect();
    Trace {
        name: SYNTHETIC_NAME.into(),
        step_s: STEP_S,
        values,
    }
}

/// Expected documents per minute on `day` (0 = Monday) at `hour` (0..24).
fn mean_per_minute(day: u64, hour: f64, day_factor: f64) -> f64 {
    let night = 15.0;
    let weekend = matches!(day % 7, 5 | 6);
    let business = bump(hour, 10.5, 1.6) * 520.0 + bump(hour, 14.75, 1.4) * 600.0
        - bump(hour, 12.75, 0.5) * 140.0;
    let scale = if weekend { 0.33 } else { 1.0 };
    let mut mean = night + scale * day_factor * business.max(0.0);
    // One batch upload: day 3 (Thursday) from 16:00, a 2-minute ramp to more than twice the
    // afternoon peak, held 20 minutes. This is what a forecast cannot see coming.
    let burst = (day == 3)
        .then_some(hour - 16.0)
        .filter(|h| (0.0..22.0 / 60.0).contains(h));
    if let Some(since) = burst {
        mean += 800.0 * (since * 60.0 / 2.0).min(1.0);
    }
    mean
}

/// A Gaussian bump of height 1 centred on `centre` hours with width `width` hours.
fn bump(hour: f64, centre: f64, width: f64) -> f64 {
    let z = (hour - centre) / width;
    (-0.5 * z * z).exp()
}

/// A Poisson-distributed count with the given mean: Knuth's method for small means, the
/// normal approximation (rounded, never negative) above 30, where it is accurate enough.
fn poisson(rng: &mut SplitMix64, mean: f64) -> f64 {
    if mean < 30.0 {
        let limit = (-mean).exp();
        let mut product = rng.unit();
        let mut count = 0.0;
        while product > limit {
            product *= rng.unit();
            count += 1.0;
        }
        count
    } else {
        (mean + mean.sqrt() * rng.normal()).round().max(0.0)
    }
}

/// SplitMix64: a tiny PRNG with a fixed, documented output sequence, so the scenario does
/// not change when a dependency's generator does.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]: the logarithm stays finite
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{BenchParams, Load};

    #[test]
    fn is_deterministic_and_a_valid_trace() {
        let a = trace();
        assert_eq!(a, trace());
        assert_eq!(a.name, SYNTHETIC_NAME);
        assert_eq!(a.values.len() as u64, DAYS * MINUTES_PER_DAY);
        assert!(a.values.iter().all(|v| v.is_finite() && *v >= 0.0));
        let load = Load::new(&a, &BenchParams::default()).unwrap();
        assert_eq!(load.end_s, (DAYS * 86_400) as f64);
    }

    #[test]
    fn has_busy_days_quiet_nights_a_weekend_dip_and_a_burst() {
        let t = trace();
        let day_total = |d: u64| -> f64 {
            t.values[(d * MINUTES_PER_DAY) as usize..((d + 1) * MINUTES_PER_DAY) as usize]
                .iter()
                .sum()
        };
        let at = |d: u64, h: u64| t.values[(d * MINUTES_PER_DAY + h * 60) as usize];
        assert!(day_total(5) < 0.5 * day_total(1), "weekend dip");
        assert!(at(1, 3) * 10.0 < at(1, 14), "quiet night, busy afternoon");
        let burst = at(3, 16) + t.values[(3 * MINUTES_PER_DAY + 16 * 60 + 10) as usize];
        assert!(burst > 2.0 * at(2, 16), "the burst on day 3");
    }
}
