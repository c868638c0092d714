//! The one-line verdict of a backtest: what following prescale would have cost and risked
//! beside what ran.

use crate::simulate::Scores;

/// Differences of replica-hours smaller than this (in %) read as "the same".
const SAME_WITHIN_PCT: f64 = 0.5;

/// `prescale: 31 % fewer replica-hours, late 0.0 % (what ran: 0.4 %)`; without a record of
/// what ran, prescale's own replica-hours and late fraction.
pub fn verdict(prescale: &Scores, what_ran: Option<&Scores>) -> String {
    let late = percent(prescale.late_fraction);
    let Some(ran) = what_ran else {
        return format!(
            "prescale: {:.1} replica-hours, late {late} (what ran: unknown, no replicas history)",
            prescale.replica_hours
        );
    };
    let ran_late = percent(ran.late_fraction);
    let cost = match change_pct(prescale.replica_hours, ran.replica_hours) {
        None => format!(
            "{:.1} replica-hours where what ran used none",
            prescale.replica_hours
        ),
        Some(pct) if pct.abs() < SAME_WITHIN_PCT => "the same replica-hours".to_string(),
        Some(pct) if pct < 0.0 => format!("{:.0} % fewer replica-hours", -pct),
        Some(pct) => format!("{pct:.0} % more replica-hours"),
    };
    format!("prescale: {cost}, late {late} (what ran: {ran_late})")
}

/// `100 * (value - base) / base`, `None` when `base` is 0.
pub fn change_pct(value: f64, base: f64) -> Option<f64> {
    (base > 0.0).then(|| 100.0 * (value - base) / base)
}

/// A late fraction as a percentage: one decimal, more when that would hide late documents
/// (`0.04 %`, never `0.0 %` for a fraction above zero).
pub fn percent(fraction: f64) -> String {
    let pct = 100.0 * fraction;
    if pct > 0.0 && pct < 0.05 {
        // Two significant digits: `0.043 %`, `0.00021 %`.
        let decimals = (-pct.log10()).floor() as usize + 2;
        format!("{pct:.decimals$} %")
    } else {
        format!("{pct:.1} %")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(late_fraction: f64, replica_hours: f64) -> Scores {
        Scores::late_and_hours(late_fraction, replica_hours)
    }

    #[test]
    fn fewer_replica_hours_and_the_late_fractions_side_by_side() {
        assert_eq!(
            verdict(&scores(0.0, 69.0), Some(&scores(0.004, 100.0))),
            "prescale: 31 % fewer replica-hours, late 0.0 % (what ran: 0.4 %)"
        );
    }

    #[test]
    fn more_or_the_same_replica_hours_say_so() {
        assert_eq!(
            verdict(&scores(0.001, 112.0), Some(&scores(0.021, 100.0))),
            "prescale: 12 % more replica-hours, late 0.1 % (what ran: 2.1 %)"
        );
        assert_eq!(
            verdict(&scores(0.0, 100.2), Some(&scores(0.0, 100.0))),
            "prescale: the same replica-hours, late 0.0 % (what ran: 0.0 %)"
        );
    }

    #[test]
    fn a_few_late_documents_are_never_shown_as_zero() {
        assert_eq!(percent(0.0), "0.0 %");
        assert_eq!(percent(0.00043), "0.043 %");
        assert_eq!(percent(0.0000021), "0.00021 %");
        assert_eq!(percent(0.0123), "1.2 %");
    }

    #[test]
    fn without_what_ran_the_verdict_says_it_is_unknown() {
        assert_eq!(
            verdict(&scores(0.0, 12.345), None),
            "prescale: 12.3 replica-hours, late 0.0 % (what ran: unknown, no replicas history)"
        );
        assert_eq!(
            verdict(&scores(0.0, 5.0), Some(&scores(0.0, 0.0))),
            "prescale: 5.0 replica-hours where what ran used none, late 0.0 % (what ran: 0.0 %)"
        );
    }
}
