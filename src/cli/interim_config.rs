//! INTERIM config loader for `prescale run`, until the config module's `config::load`
//! lands: it reads only the keys the controller needs (name, scaleTargetRef, mode, interval,
//! min/maxReplicas, startupTime, capacity.perReplica) and leaves every other setting at its
//! default. Replace the one call in `cli/run.rs` with `config::load` and delete this file.

use crate::config::{Capacity, Config, Mode, ScaleTargetRef, TargetConfig};
use std::collections::BTreeSet;
use std::path::Path;

#[derive(serde::Deserialize)]
struct RawConfig {
    #[serde(default)]
    targets: Vec<RawTarget>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTarget {
    name: String,
    scale_target_ref: RawRef,
    #[serde(default)]
    mode: Mode,
    interval: Option<String>,
    min_replicas: Option<u32>,
    max_replicas: Option<u32>,
    startup_time: Option<String>,
    capacity: Option<RawCapacity>,
}

#[derive(serde::Deserialize)]
struct RawRef {
    namespace: String,
    name: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCapacity {
    per_replica: f64,
}

fn duration(path: &Path, key: &str, v: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(v).map_err(|e| {
        format!(
            "{}: {key}: {e}: write a duration like 15s or 2m",
            path.display()
        )
    })?;
    if d.is_zero() {
        return Err(format!("{}: {key} must be more than 0s", path.display()));
    }
    Ok(d)
}

/// Load and validate the subset of the config file described above.
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    let raw: RawConfig =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut names = BTreeSet::new();
    let mut targets = Vec::new();
    for (i, t) in raw.targets.into_iter().enumerate() {
        let at = format!("targets[{i}]");
        if t.name.is_empty() || !names.insert(t.name.clone()) {
            return Err(format!(
                "{}: {at}.name {:?} is empty or used twice: give each target a unique name",
                path.display(),
                t.name
            ));
        }
        let d = TargetConfig::default();
        let min = t.min_replicas.unwrap_or(d.min_replicas);
        let max = t.max_replicas.unwrap_or(d.max_replicas);
        if min > max {
            return Err(format!(
                "{}: {at}: minReplicas {min} is above maxReplicas {max}",
                path.display()
            ));
        }
        let per_replica = t
            .capacity
            .map(|c| c.per_replica)
            .unwrap_or(d.capacity.per_replica);
        if !(per_replica.is_finite() && per_replica > 0.0) {
            return Err(format!(
                "{}: {at}.capacity.perReplica must be a positive number",
                path.display()
            ));
        }
        targets.push(TargetConfig {
            name: t.name,
            scale_target_ref: ScaleTargetRef {
                namespace: t.scale_target_ref.namespace,
                name: t.scale_target_ref.name,
            },
            mode: t.mode,
            interval: match t.interval {
                Some(v) => duration(path, &format!("{at}.interval"), &v)?,
                None => d.interval,
            },
            min_replicas: min,
            max_replicas: max,
            startup_time: match t.startup_time {
                Some(v) => duration(path, &format!("{at}.startupTime"), &v)?,
                None => d.startup_time,
            },
            capacity: Capacity { per_replica },
            ..d
        });
    }
    Ok(Config {
        prometheus: None,
        targets,
    })
}
