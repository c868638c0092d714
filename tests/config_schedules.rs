//! Scheduled windows (`schedules:`, KEDA's cron scaler): parsed, inherited, read back from
//! the effective settings, and every mistake named with its key path, its line and the fix.

use prescale::config;
use std::path::Path;
use std::time::Duration;

#[path = "support/config_problems.rs"]
mod config_problems;

use config_problems::{ORIGIN, assert_problem, report};

const SCRAPED: &str = "    metrics:
      queueDepth: { scrape: { url: 'http://app.docs.svc:8080/metrics', metric: docs_queue_depth } }";

/// A one-target file with `schedules` (indented for a target) and optional `defaults`.
fn file(defaults: &str, schedules: &str) -> String {
    format!(
        "{defaults}targets:
  - name: a
    scaleTargetRef: {{ namespace: docs, name: a }}
    maxReplicas: 20
{schedules}
{SCRAPED}
"
    )
}

#[test]
fn the_full_example_has_a_nightly_window_in_berlin_time() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prescale.yaml");
    let config = config::load(&path).unwrap();
    let [window] = config.targets[0].schedules.as_slice() else {
        panic!("one window expected: {:#?}", config.targets[0].schedules);
    };
    assert_eq!(window.name, "nightly-batch");
    assert_eq!(window.cron_text, "0 2 * * *");
    assert_eq!(window.timezone_name, "Europe/Berlin");
    assert_eq!(window.duration, Duration::from_secs(7200));
    assert_eq!((window.min_replicas, window.max_replicas), (Some(12), None));
    assert!(config.targets[1].schedules.is_empty());
}

#[test]
fn windows_are_inherited_replaced_whole_and_read_back() {
    let text = file(
        "defaults:
  schedules:
    - { name: launch, cron: '0 9 15 6 *', duration: 24h, minReplicas: 8, maxReplicas: 16 }
",
        "",
    );
    let config = config::parse(&text, ORIGIN).unwrap();
    let window = &config.targets[0].schedules[0];
    assert_eq!(window.name, "launch");
    assert_eq!(window.timezone_name, "UTC", "the default time zone");
    let yaml = serde_saphyr::to_string(&config::effective(&config)).unwrap();
    assert!(yaml.contains("timezone: UTC"), "{yaml}");
    assert_eq!(config::parse(&yaml, "effective.yaml").unwrap(), config);

    // A target's own list replaces the inherited one; `[]` clears it.
    let text = file(
        "defaults:
  schedules:
    - { name: launch, cron: '0 9 15 6 *', duration: 24h, minReplicas: 8 }
",
        "    schedules: []",
    );
    assert!(
        config::parse(&text, ORIGIN).unwrap().targets[0]
            .schedules
            .is_empty()
    );
}

#[test]
fn a_bad_cron_expression_is_named_with_the_fix() {
    let report = report(&file(
        "",
        "    schedules:
      - { name: nightly, cron: '0 25 * * *', duration: 2h, minReplicas: 5 }
      - { name: seconds, cron: '0 0 2 * * *', duration: 2h, minReplicas: 5 }
      - { name: never, cron: '0 0 30 2 *', duration: 2h, minReplicas: 5 }",
    ));
    assert_problem(
        &report,
        8,
        "targets[0].schedules[2].cron",
        &["never comes", "`0 9 15 6 *`"],
    );
    for (line, index) in [(6, 0), (7, 1)] {
        assert_problem(
            &report,
            line,
            &format!("targets[0].schedules[{index}].cron"),
            &["is not a valid 5-field cron expression", "e.g. `0 2 * * *`"],
        );
    }
}

#[test]
fn an_unknown_time_zone_is_named_with_the_fix() {
    let report = report(&file(
        "",
        "    schedules:
      - { name: nightly, cron: '0 2 * * *', timezone: Europe/Berlni, duration: 2h, minReplicas: 5 }",
    ));
    assert_problem(
        &report,
        6,
        "targets[0].schedules[0].timezone",
        &["unknown time zone `Europe/Berlni`", "IANA", "Europe/Berlin"],
    );
}

#[test]
fn durations_names_and_bounds_are_checked() {
    let report = report(&file(
        "",
        "    schedules:
      - { name: zero, cron: '0 2 * * *', duration: 0s, minReplicas: 5 }
      - { name: nothing, cron: '0 2 * * *', duration: 1h }
      - { name: upside-down, cron: '0 2 * * *', duration: 1h, minReplicas: 6, maxReplicas: 3 }
      - { name: too-many, cron: '0 2 * * *', duration: 1h, minReplicas: 21 }
      - { name: 'bad name!', cron: '0 2 * * *', duration: 1h, minReplicas: 2 }
      - { name: zero, cron: '0 3 * * *', duration: 1h, minReplicas: 2 }",
    ));
    let at = |i: usize, key: &str| {
        if key.is_empty() {
            format!("targets[0].schedules[{i}]")
        } else {
            format!("targets[0].schedules[{i}].{key}")
        }
    };
    assert_problem(&report, 6, &at(0, "duration"), &["longer than 0s"]);
    assert_problem(
        &report,
        7,
        &at(1, ""),
        &[
            "neither minReplicas nor maxReplicas",
            "add `minReplicas: N`",
        ],
    );
    assert_problem(
        &report,
        8,
        &at(2, "minReplicas"),
        &["minReplicas 6 is greater than the window's maxReplicas 3"],
    );
    assert_problem(
        &report,
        9,
        &at(3, "minReplicas"),
        &[
            "at least 21 replicas, above the maxReplicas 20 of target \"a\"",
            "at most 20",
        ],
    );
    assert_problem(&report, 10, &at(4, "name"), &["not a window name"]);
    assert_problem(
        &report,
        11,
        &at(5, "name"),
        &["duplicate window name \"zero\"", "line 6"],
    );
}

#[test]
fn an_inherited_window_is_checked_against_each_targets_bounds() {
    let report = report(&file(
        "defaults:
  schedules:
    - { name: launch, cron: '0 9 15 6 *', duration: 24h, minReplicas: 30 }
",
        "",
    ));
    // Reported once for the target whose maxReplicas (20) it exceeds, at the window.
    assert_problem(
        &report,
        3,
        "defaults.schedules[0].minReplicas",
        &["above the maxReplicas 20 of target \"a\""],
    );
}
