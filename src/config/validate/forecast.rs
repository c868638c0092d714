//! The `forecast:` section, merged and checked.

use super::context::{Bounds, Cx, DurationRule, Picked, QUANTILE};
use super::layers::Layers;
use crate::config::raw::RawForecast;
use crate::config::types::ForecastConfig;
use std::time::Duration;

/// `history`: kept in memory for every target (288 five-minute buckets of 4 bytes a day),
/// and fetched from Prometheus when a target starts. 90 days is 101 KiB per target and more
/// than the weekly model uses; an unbounded value would be allocated at once and abort.
const HISTORY: DurationRule = DurationRule {
    positive: true,
    min: None,
    max: Some((
        Duration::from_secs(90 * 86_400),
        "history is held in memory for every target; the weekly model needs a few weeks",
    )),
};

/// `targetUtilization`: utilisation above 1 would plan for overload.
const UTILIZATION: Bounds = Bounds {
    low: 0.0,
    low_inclusive: false,
    high: Some((1.0, true)),
    spelled: "in (0, 1]",
    example: "0.85",
};

/// The effective forecast settings: each key from the target, else `defaults:`, else
/// [`ForecastConfig::default`].
///
/// To add a key: an `Option<_>` field in `RawForecast` (`raw/settings.rs`), the field in
/// `ForecastConfig` with its default (`types.rs`), and one line below: pick the key, check
/// it, fall back to the default. (Then one line in `effective.rs`, which the compiler
/// points at.)
pub fn resolve_forecast(layers: &Layers<'_>, cx: &mut Cx<'_>) -> ForecastConfig {
    let base = ForecastConfig::default();
    let pick = Forecast(layers);
    ForecastConfig {
        enabled: pick
            .key("enabled", |f| f.enabled.as_ref())
            .map_or(base.enabled, |p| *p.value),
        history: pick
            .key("history", |f| f.history.as_ref())
            .and_then(|p| cx.duration(&p, HISTORY))
            .unwrap_or(base.history),
        target_utilization: pick
            .key("targetUtilization", |f| f.target_utilization.as_ref())
            .and_then(|p| cx.within(&p, UTILIZATION))
            .unwrap_or(base.target_utilization),
        error_quantile: pick
            .key("errorQuantile", |f| f.error_quantile.as_ref())
            .and_then(|p| cx.within(&p, QUANTILE))
            .unwrap_or(base.error_quantile),
    }
}

/// Looks up keys below `forecast:`.
struct Forecast<'l, 'a>(&'l Layers<'a>);

impl<'a> Forecast<'_, 'a> {
    fn key<T>(
        &self,
        key: &str,
        get: impl Fn(&'a RawForecast) -> Option<&'a T>,
    ) -> Option<Picked<'a, T>> {
        self.0
            .pick(&format!("forecast.{key}"), |s| get(s.forecast.as_ref()?))
    }
}
