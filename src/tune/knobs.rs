//! The knobs `prescale tune` searches, in one place. To add one: a [`Knob`] here with its
//! key path, the values worth trying (inside the range validation accepts), and how to read
//! and write it; the search, the report and the YAML snippet take it from this list.

use std::time::Duration;

use crate::config::{TargetConfig, format_duration};

/// How a knob's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain number.
    Number,
    /// Seconds, written as a duration (`90s`, `5m`).
    Seconds,
}

/// One knob of a target's config.
#[derive(Debug, Clone, Copy)]
pub struct Knob {
    /// Its key path in a target, as the file writes it.
    pub path: &'static str,
    /// The values tried (the target's current value is tried too).
    pub values: &'static [f64],
    /// How the value is written.
    pub unit: Unit,
    /// Read it.
    pub get: fn(&TargetConfig) -> f64,
    /// Write it.
    pub set: fn(&mut TargetConfig, f64),
}

impl Knob {
    /// `value` as the file writes it.
    pub fn format(&self, value: f64) -> String {
        match self.unit {
            Unit::Number => format!("{value}"),
            Unit::Seconds => format_duration(Duration::from_secs_f64(value.max(0.0))),
        }
    }
}

/// The knobs that matter most for cost against lateness, each with its values to try.
pub const KNOBS: &[Knob] = &[
    Knob {
        path: "forecast.missCost",
        values: &[1.0, 2.0, 4.0, 7.0, 16.0, 32.0],
        unit: Unit::Number,
        get: |c| c.forecast.miss_cost,
        set: |c, v| c.forecast.miss_cost = v,
    },
    Knob {
        path: "forecast.errorQuantile",
        values: &[0.9, 0.95, 0.98, 0.99, 0.995],
        unit: Unit::Number,
        get: |c| c.forecast.error_quantile,
        set: |c, v| c.forecast.error_quantile = v,
    },
    Knob {
        path: "plan.waitTarget",
        values: &[0.25, 0.5, 0.75, 1.0],
        unit: Unit::Number,
        get: |c| c.plan.wait_target,
        set: |c, v| c.plan.wait_target = v,
    },
    Knob {
        path: "plan.releaseTolerance",
        values: &[0.05, 0.1, 0.2, 0.3],
        unit: Unit::Number,
        get: |c| c.plan.release_tolerance,
        set: |c, v| c.plan.release_tolerance = v,
    },
    Knob {
        path: "behavior.scaleDown.stabilizationWindow",
        values: &[0.0, 60.0, 120.0, 300.0, 600.0],
        unit: Unit::Seconds,
        get: |c| c.behavior.scale_down.stabilization_window.as_secs_f64(),
        set: |c, v| c.behavior.scale_down.stabilization_window = Duration::from_secs_f64(v),
    },
    Knob {
        path: "behavior.scaleDownCooldown",
        values: &[0.0, 60.0, 180.0, 300.0, 600.0],
        unit: Unit::Seconds,
        get: |c| c.behavior.scale_down_cooldown.as_secs_f64(),
        set: |c, v| c.behavior.scale_down_cooldown = Duration::from_secs_f64(v),
    },
    Knob {
        path: "forecast.targetUtilization",
        values: &[0.7, 0.8, 0.9, 1.0],
        unit: Unit::Number,
        get: |c| c.forecast.target_utilization,
        set: |c, v| c.forecast.target_utilization = v,
    },
];

/// The knobs' values in `config`, in [`KNOBS`] order.
pub fn read(config: &TargetConfig) -> Vec<f64> {
    KNOBS.iter().map(|k| (k.get)(config)).collect()
}

/// `config` with the knobs set to `values` ([`KNOBS`] order).
pub fn apply(config: &TargetConfig, values: &[f64]) -> TargetConfig {
    let mut config = config.clone();
    for (knob, &v) in KNOBS.iter().zip(values) {
        (knob.set)(&mut config, v);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_tried_is_one_the_config_accepts() {
        for knob in KNOBS {
            for &v in knob.values {
                let text = format!(
                    "targets:\n  - name: a\n    scaleTargetRef: {{namespace: n, name: a}}\n    metrics: {{queueDepth: {{scrape: {{url: 'http://a/metrics', metric: q}}}}}}\n{}",
                    nested(knob.path, &knob.format(v))
                );
                let config = crate::config::parse(&text, "tune.yaml")
                    .unwrap_or_else(|e| panic!("{} = {v}: {e}", knob.path));
                assert_eq!((knob.get)(&config.targets[0]), v, "{}", knob.path);
            }
        }
    }

    #[test]
    fn apply_sets_and_read_reads_every_knob() {
        let base = TargetConfig::default();
        let values: Vec<f64> = KNOBS.iter().map(|k| k.values[0]).collect();
        assert_eq!(read(&apply(&base, &values)), values);
        assert_eq!(KNOBS[2].format(0.5), "0.5");
        assert_eq!(KNOBS[4].format(120.0), "2m");
    }

    /// `a.b.c` and a value as YAML nested under a target, indented for the list item.
    fn nested(path: &str, value: &str) -> String {
        let parts: Vec<&str> = path.split('.').collect();
        let mut out = String::new();
        for (depth, part) in parts.iter().enumerate() {
            let indent = "  ".repeat(depth + 2);
            if depth + 1 == parts.len() {
                out.push_str(&format!("{indent}{part}: {value}\n"));
            } else {
                out.push_str(&format!("{indent}{part}:\n"));
            }
        }
        out
    }
}
