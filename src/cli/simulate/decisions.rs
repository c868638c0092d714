//! `--decisions-out`: the schedule a policy produced, as CSV `t,desired`, so another
//! implementation of the bench (or `--replay`) can re-score it.

use std::fmt::Write as _;

use crate::simulate::Run;

/// The CSV text: a header, then one row per decision: its time in seconds (an integer when
/// whole) and the desired replicas applied from that tick on (after the bounds).
pub fn schedule_csv(run: &Run, tick: f64) -> String {
    let mut out = String::with_capacity(12 * run.desired.len() + 10);
    out.push_str("t,desired\n");
    for (j, desired) in run.desired.iter().enumerate() {
        let t = tick * j as f64;
        // Integral times print without a fraction; `as i64` is exact below 2^53.
        if t.fract() == 0.0 && t.abs() < 9.0e15 {
            let _ = writeln!(out, "{},{desired}", t as i64);
        } else {
            let _ = writeln!(out, "{t},{desired}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_row_per_decision_with_whole_seconds() {
        let run = Run {
            desired: vec![1, 3, 2],
            ..Run::default()
        };
        assert_eq!(schedule_csv(&run, 15.0), "t,desired\n0,1\n15,3\n30,2\n");
        assert_eq!(schedule_csv(&run, 7.5).lines().nth(2), Some("7.5,3"));
    }
}
