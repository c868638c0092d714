//! The Holt-Winters peer against statsmodels 0.15.0 on a series the model itself generated:
//! 10 days, hourly, alpha 0.3, beta 0.05, gamma 0.2, phi 0.9, level 20, trend 0.2, seasonal
//! effects `6 sin(2 pi h / 24)`, Gaussian noise of sd 0.5 (numpy, seed 7), rounded to 6
//! decimals. The constants are statsmodels' answers for
//! `ExponentialSmoothing(SERIES, trend="add", damped_trend=True, seasonal="add",
//! seasonal_periods=24, initialization_method=...)`.

use super::fit::{FitError, fit};
use super::initial::estimated;
use super::smoothing::{PERIOD, Smoothing};
use super::{HoltWinters, HourlyForecasts};
use crate::simulate::policies::{Hpa, HpaMetric};
use crate::simulate::{BenchParams, HPA_TARGET_UTILIZATION, Load, Trace, run};

include!("testdata.rs");

fn close(what: &str, got: f64, want: f64, tolerance: f64) {
    let scale = want.abs().max(1e-12);
    assert!(
        (got - want).abs() / scale <= tolerance,
        "{what}: got {got}, want {want} (relative tolerance {tolerance:e})"
    );
}

fn generating() -> Smoothing {
    Smoothing {
        alpha: 0.3,
        beta: 0.05,
        gamma: 0.2,
        phi: 0.9,
        level: 20.0,
        trend: 0.2,
        seasonal: std::array::from_fn(|h| {
            6.0 * (2.0 * std::f64::consts::PI * h as f64 / PERIOD as f64).sin()
        }),
    }
}

#[test]
fn the_starting_states_are_statsmodels_heuristic() {
    let Some(states) = estimated(&SERIES) else {
        panic!("240 values are enough for the heuristic");
    };
    close("level", states.level, HEURISTIC_LEVEL, 1e-12);
    close("trend", states.trend, HEURISTIC_TREND, 1e-9);
    for (h, (got, want)) in states.seasonal.iter().zip(HEURISTIC_SEASONAL).enumerate() {
        close(&format!("seasonal {h}"), *got, want, 1e-11);
    }
}

#[test]
fn the_recursion_and_forecasts_are_statsmodels_for_given_parameters() {
    let model = generating();
    close("sse", model.sse(&SERIES), KNOWN_SSE, 1e-13);
    let forecast = model.forecast(&SERIES, KNOWN_FORECAST.len());
    // Step 24 is statsmodels' quirk: the seasonal effect before the last update.
    for (k, (got, want)) in forecast.iter().zip(KNOWN_FORECAST).enumerate() {
        close(&format!("forecast {}", k + 1), *got, want, 1e-13);
    }
}

#[test]
fn the_fit_finds_statsmodels_optimum() {
    let Ok(fitted) = fit(&SERIES) else {
        panic!("the series can be fitted");
    };
    // The optimum statsmodels found fits better than the parameters that generated the
    // series (the noise is part of the sample), and ours is the same optimum.
    let sse = fitted.sse(&SERIES);
    assert!(sse < KNOWN_SSE);
    close("sse", sse, FIT_SSE, 1e-7);
    let [alpha, beta, gamma, phi] = FIT_SMOOTHING;
    assert!(
        (fitted.alpha - alpha).abs() < 1e-3,
        "alpha {}",
        fitted.alpha
    );
    assert!((fitted.beta - beta).abs() < 1e-3, "beta {}", fitted.beta);
    assert!(
        (fitted.gamma - gamma).abs() < 1e-3,
        "gamma {}",
        fitted.gamma
    );
    assert!((fitted.phi - phi).abs() < 1e-3, "phi {}", fitted.phi);
    // The level smoothing the series was generated with is recovered roughly.
    assert!((fitted.alpha - 0.3).abs() < 0.1, "alpha {}", fitted.alpha);
    for (k, (got, want)) in fitted
        .forecast(&SERIES, FIT_FORECAST.len())
        .iter()
        .zip(FIT_FORECAST)
        .enumerate()
    {
        close(&format!("forecast {}", k + 1), *got, want, 1e-4);
    }
}

#[test]
fn a_series_under_two_days_or_with_a_gap_is_refused() {
    assert_eq!(fit(&SERIES[..47]), Err(FitError::TooShort { hours: 47 }));
    let mut gap = SERIES;
    gap[30] = f64::NAN;
    assert!(matches!(
        fit(&gap),
        Err(FitError::NotFinite { index: 30, .. })
    ));
}

#[test]
fn forecasts_cover_the_hours_after_the_fit() {
    let forecasts = HourlyForecasts {
        first_hour: 48,
        rates: vec![3.0, f64::NAN],
    };
    assert_eq!(
        forecasts.rate(47),
        None,
        "hours the fit saw are not forecast"
    );
    assert_eq!(forecasts.rate(48), Some(3.0));
    assert_eq!(
        forecasts.rate(49),
        None,
        "a non-finite forecast is no forecast"
    );
    assert_eq!(forecasts.rate(50), None);
}

/// `hours` of a steady 8.5 documents/s in 60 s intervals, the last `idle` minutes without
/// arrivals, as the bench's load (scaled by 1).
fn steady_load(hours: usize, idle: usize) -> (Load, BenchParams) {
    let minutes = hours * 60;
    let values = (0..minutes)
        .map(|m| if m + idle >= minutes { 0.0 } else { 510.0 })
        .collect();
    let trace = Trace {
        name: "steady".into(),
        step_s: 60,
        values,
    };
    let params = BenchParams {
        peak_replicas: 8.5,
        warmup_days: Some(0.0),
        ..BenchParams::default()
    };
    let Ok(load) = Load::new(&trace, &params) else {
        panic!("a steady trace is a load");
    };
    (load, params)
}

#[test]
fn the_policy_fits_every_hour_from_48_hours_on() {
    let (load, params) = steady_load(48, 0);
    let mut policy = HoltWinters::new(&params);
    run(&load, &params, &mut policy);
    assert!(policy.forecasts().is_none(), "no fit before 48 h");

    let (load, params) = steady_load(50, 0);
    let mut policy = HoltWinters::new(&params);
    run(&load, &params, &mut policy);
    let Some(forecasts) = policy.forecasts() else {
        panic!("fitted at 48 h and 49 h");
    };
    assert_eq!(forecasts.first_hour, 49, "the last fit saw 49 whole hours");
    assert_eq!(forecasts.rates.len(), 2, "this hour and the next");
    close("forecast of a steady rate", forecasts.rates[0], 8.5, 1e-9);
}

#[test]
fn the_forecast_holds_capacity_the_hpa_would_release() {
    // The arrivals stop in the last hour: the HPA lets go after its 300 s window, the
    // forecast (8.5 documents/s, fitted on the hours before) keeps ceil(8.5 / 0.85) = 10.
    let (load, params) = steady_load(72, 60);
    let last_hour = load.ticks() - 3600 / params.tick as usize;
    let settled = last_hour + 600 / params.tick as usize;
    let mut hpa = Hpa::new(HpaMetric::Utilization(HPA_TARGET_UTILIZATION), &params);
    let reactive = run(&load, &params, &mut hpa);
    assert!(reactive.desired[settled..].iter().all(|&d| d == 1));
    let mut policy = HoltWinters::new(&params);
    let predictive = run(&load, &params, &mut policy);
    assert_eq!(
        predictive.desired[last_hour - 1],
        reactive.desired[last_hour - 1],
        "while the load is steady the HPA asks for more than the forecast"
    );
    assert!(
        predictive.desired[settled..].iter().all(|&d| d == 10),
        "{:?}",
        &predictive.desired[settled..settled + 4]
    );
}
