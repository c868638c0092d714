//! The YAML to paste into the target: every tuned knob at its key path. A knob inside
//! `behavior.scaleUp` or `behavior.scaleDown` brings its whole rules with it, because a
//! target's rules replace the inherited ones whole (as in HPA): pasting only the tuned key
//! would reset the target's other rules to the built-in defaults.

use std::fmt::Write as _;

use crate::config::{ScalingRules, TargetConfig, format_duration};

use super::knobs::KNOBS;

/// The snippet for `tuned`, indented to sit at a target's top level (four spaces).
pub fn snippet(tuned: &TargetConfig) -> String {
    let mut entries: Vec<(Vec<&str>, String)> = Vec::new();
    for knob in KNOBS {
        let path: Vec<&str> = knob.path.split('.').collect();
        entries.push((path.clone(), knob.format((knob.get)(tuned))));
        if let ["behavior", direction @ ("scaleUp" | "scaleDown"), _] = path.as_slice() {
            let rules = if *direction == "scaleUp" {
                &tuned.behavior.scale_up
            } else {
                &tuned.behavior.scale_down
            };
            for (key, value) in rules_entries(rules) {
                entries.push((vec!["behavior", direction, key], value));
            }
        }
    }
    let mut out = String::new();
    render(&entries, 2, &mut out);
    out
}

fn rules_entries(rules: &ScalingRules) -> Vec<(&'static str, String)> {
    let policies: Vec<String> = rules
        .policies
        .iter()
        .map(|p| {
            format!(
                "{{type: {:?}, value: {}, period: {}}}",
                p.kind,
                p.value,
                format_duration(p.period)
            )
        })
        .collect();
    vec![
        (
            "stabilizationWindow",
            format_duration(rules.stabilization_window),
        ),
        ("selectPolicy", format!("{:?}", rules.select_policy)),
        ("policies", format!("[{}]", policies.join(", "))),
    ]
}

/// Write `entries` as nested YAML, keys in order of first appearance, each key once.
fn render(entries: &[(Vec<&str>, String)], depth: usize, out: &mut String) {
    let mut keys: Vec<&str> = Vec::new();
    for (path, _) in entries {
        if let Some(first) = path.first()
            && !keys.contains(first)
        {
            keys.push(first);
        }
    }
    let indent = "  ".repeat(depth);
    for key in keys {
        let below: Vec<(Vec<&str>, String)> = entries
            .iter()
            .filter(|(p, _)| p.first() == Some(&key))
            .map(|(p, v)| (p[1..].to_vec(), v.clone()))
            .collect();
        match below.iter().find(|(p, _)| p.is_empty()) {
            Some((_, value)) => {
                let _ = writeln!(out, "{indent}{key}: {value}");
            }
            None => {
                let _ = writeln!(out, "{indent}{key}:");
                render(&below, depth + 1, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::tune::knobs::{apply, read};

    const TARGET: &str = "targets:
  - name: a
    scaleTargetRef: {namespace: n, name: a}
    metrics: {queueDepth: {scrape: {url: 'http://a/metrics', metric: q}}}
";

    #[test]
    fn the_snippet_pasted_into_a_target_gives_the_tuned_values_and_keeps_its_rules() {
        let custom = format!(
            "{TARGET}    behavior:\n      scaleDown:\n        selectPolicy: Min\n        policies: [{{type: Pods, value: 2, period: 1m}}]\n"
        );
        let base = parse(&custom, "base.yaml").unwrap().targets.remove(0);
        let values = [16.0, 0.95, 0.75, 0.1, 300.0, 180.0, 0.9];
        let tuned = apply(&base, &values);
        let text = snippet(&tuned);
        assert!(
            text.contains("    forecast:\n      missCost: 16\n      errorQuantile: 0.95\n"),
            "{text}"
        );
        assert!(
            text.contains("    plan:\n      waitTarget: 0.75\n      releaseTolerance: 0.1\n"),
            "{text}"
        );
        let pasted = parse(&format!("{TARGET}{text}"), "pasted.yaml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
            .targets
            .remove(0);
        assert!(
            text.contains("    behavior:\n      scaleDown:\n        stabilizationWindow: 5m\n        selectPolicy: Min\n"),
            "{text}"
        );
        assert!(text.contains("      scaleDownCooldown: 3m\n"), "{text}");
        assert_eq!(read(&pasted), values);
        // The target's own scale-down rules come with the tuned window; scale-up is untouched.
        assert_eq!(pasted.behavior.scale_down, tuned.behavior.scale_down);
        assert_eq!(pasted.behavior.scale_up, base.behavior.scale_up);
    }
}
