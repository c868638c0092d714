//! An SVG picture of a run: the load (as replicas needed), the ready replicas of the policy and
//! of the oracle, and the queue wait against the SLO, over time.

use std::str::FromStr;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{BenchParams, Evaluation, Load, waits};

const DAY_S: f64 = 86_400.0;
/// Points per series at most: enough for a smooth picture, few enough to keep the SVG to a
/// few hundred KB for a 35-day trace.
const MAX_POINTS: usize = 1200;
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 800;

/// The part of the horizon to plot, in days from the start of the trace (`START:END`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayWindow {
    /// First day plotted (inclusive), fractional days allowed.
    pub start_day: f64,
    /// Last day plotted (exclusive).
    pub end_day: f64,
}

impl FromStr for DayWindow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fix = "write START_DAY:END_DAY with 0 <= START < END, e.g. 3:4 for the fourth day";
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` has no `:`; {fix}"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|d| d.is_finite() && *d >= 0.0)
                .ok_or_else(|| format!("`{v}` is not a number of days >= 0; {fix}"))
        };
        let (start_day, end_day) = (parse(a)?, parse(b)?);
        if start_day >= end_day {
            return Err(format!("the window {s} is empty; {fix}"));
        }
        Ok(DayWindow { start_day, end_day })
    }
}

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The window does not overlap the simulated horizon.
    #[error(
        "--plot-window {start}:{end}: the horizon is {horizon:.2} days; choose a window that starts before it"
    )]
    Window {
        /// Start day asked for.
        start: f64,
        /// End day asked for.
        end: f64,
        /// Simulated days.
        horizon: f64,
    },
    /// plotters failed (a bug rather than bad input: the SVG is drawn into memory).
    #[error("drawing the plot failed: {0}")]
    Draw(String),
}

/// What to plot.
pub struct PlotInput<'a> {
    /// Caption, e.g. the trace and the policy.
    pub title: String,
    /// The load the runs were simulated on.
    pub load: &'a Load,
    /// The bench parameters (for `mu` and the SLO).
    pub params: &'a BenchParams,
    /// The policy's run.
    pub policy: &'a Evaluation,
    /// The oracle's run on the same load.
    pub oracle: &'a Evaluation,
    /// Part of the horizon to plot; `None`: all of it.
    pub window: Option<DayWindow>,
    /// A second schedule drawn beside the policy (a backtest's "what ran"), ready replicas
    /// and wait; `None`: none.
    pub baseline: Option<&'a Evaluation>,
    /// What t = 0 is, for the time axis (e.g. `2024-05-01 00:00 UTC`); `None`: the start of
    /// the trace.
    pub origin: Option<String>,
    /// Ticks that are scored; the others (a backtest's gaps) are shaded. `None`: the
    /// warm-up alone is unscored.
    pub scored: Option<&'a [bool]>,
}

/// Draw the plot as an SVG document.
pub fn render_svg(input: &PlotInput) -> Result<String, PlotError> {
    let load = input.load;
    let horizon_days = load.end_s / DAY_S;
    let (start_day, end_day) = match input.window {
        Some(w) => (w.start_day, w.end_day.min(horizon_days)),
        None => (0.0, horizon_days),
    };
    let first = (start_day * DAY_S / load.tick).ceil() as usize;
    let last = ((end_day * DAY_S / load.tick).floor() as usize).min(load.ticks());
    if first >= last {
        return Err(PlotError::Window {
            start: start_day,
            end: input.window.map_or(end_day, |w| w.end_day),
            horizon: horizon_days,
        });
    }
    // Hours read better than fractions of a day for a window of a few days.
    let origin = input.origin.as_deref().unwrap_or("the start of the trace");
    let (unit_s, unit) = if end_day - start_day <= 3.0 {
        (3600.0, format!("hours from {origin}"))
    } else {
        (DAY_S, format!("days from {origin}"))
    };
    let series = Downsampler {
        first,
        last,
        tick: load.tick,
        unit_s,
    };
    let mu = input.params.mu;
    let demand = series.max_per_bucket(|j| load.rates[j] / mu);
    let ready = series.max_per_bucket(|j| input.policy.run.ready[j] as f64);
    let oracle = series.max_per_bucket(|j| input.oracle.run.ready[j] as f64);
    let tick_waits = waits(&input.policy.run, load);
    let wait = series.max_per_bucket(|j| tick_waits[j].max(0.0));
    let baseline = input.baseline.map(|b| {
        let b_waits = waits(&b.run, load);
        (
            b.policy.clone(),
            series.max_per_bucket(|j| b.run.ready[j] as f64),
            series.max_per_bucket(|j| b_waits[j].max(0.0)),
        )
    });
    let unscored = input
        .scored
        .map(|scored| series.runs(|j| !scored[j]))
        .unwrap_or_default();
    let x_range = series.x(first)..series.x(last);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw)?;
        let root = root
            .titled(&input.title, ("sans-serif", 22))
            .map_err(draw)?;
        let (upper, lower) = root.split_vertically(HEIGHT * 11 / 20);

        let baseline_ready = baseline.as_ref().map_or(&[][..], |(_, r, _)| r.as_slice());
        let top = peak(&[&demand, &ready, &oracle, baseline_ready]).max(1.0) * 1.1;
        let mut chart = panel(&upper, x_range.clone(), top, &unit, "replicas")?;
        // The warm-up is simulated but not scored: shade it so a reader does not judge it.
        let warmup_end = (load.warmup_s / unit_s).min(x_range.end);
        let shade = RGBColor(255, 243, 205);
        if warmup_end > x_range.start {
            chart
                .draw_series([Rectangle::new(
                    [(x_range.start, 0.0), (warmup_end, top)],
                    shade.filled(),
                )])
                .map_err(draw)?
                .label("warm-up (not scored)")
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], shade.filled())
                });
        }
        let gap = RGBColor(250, 210, 210);
        if !unscored.is_empty() {
            chart
                .draw_series(
                    unscored
                        .iter()
                        .map(|&(a, b)| Rectangle::new([(a, 0.0), (b, top)], gap.filled())),
                )
                .map_err(draw)?
                .label("no data (not scored)")
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], gap.filled()));
        }
        let grey = RGBColor(200, 200, 200);
        chart
            .draw_series(AreaSeries::new(demand.iter().copied(), 0.0, grey.filled()))
            .map_err(draw)?
            .label("load (replicas needed, λ/μ)")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], grey.filled()));
        let orange = RGBColor(230, 120, 20);
        let mut lines: Vec<(&Points, RGBColor, String)> = Vec::with_capacity(3);
        if let Some((name, points, _)) = &baseline {
            lines.push((points, orange, format!("{name} ready")));
        }
        lines.push((&oracle, RGBColor(40, 160, 60), "oracle ready".into()));
        lines.push((&ready, BLUE, format!("{} ready", input.policy.policy)));
        for (points, color, label) in lines {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(draw)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(draw)?;

        let slo = input.params.slo_wait;
        let baseline_wait = baseline.as_ref().map_or(&[][..], |(_, _, w)| w.as_slice());
        let top = peak(&[&wait, baseline_wait]).max(2.0 * slo) * 1.1;
        let mut chart = panel(&lower, x_range.clone(), top, &unit, "queue wait, s")?;
        if let Some((name, _, points)) = &baseline {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    orange.stroke_width(2),
                ))
                .map_err(draw)?
                .label(format!("{name} wait (max per point)"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange));
        }
        chart
            .draw_series(LineSeries::new(wait.iter().copied(), BLUE.stroke_width(2)))
            .map_err(draw)?
            .label(format!("{} wait (max per point)", input.policy.policy))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(
                [(x_range.start, slo), (x_range.end, slo)],
                RED.stroke_width(1),
            ))
            .map_err(draw)?
            .label(format!("SLO {slo} s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(draw)?;
        root.present().map_err(draw)?;
    }
    Ok(svg)
}

/// One panel: axes over `x` and `0..top`, with the mesh and axis labels drawn.
fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x: std::ops::Range<f64>,
    top: f64,
    x_desc: &str,
    y_desc: &str,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>, PlotError>
{
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x, 0.0..top)
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc(y_desc)
        .draw()
        .map_err(draw)?;
    Ok(chart)
}

fn draw(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// A downsampled series: (x in the plot's unit, value).
type Points = Vec<(f64, f64)>;

fn peak(series: &[&[(f64, f64)]]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.iter().map(|(_, y)| *y))
        .fold(0.0, f64::max)
}

/// Reduces ticks `[first, last)` to at most [`MAX_POINTS`] points, keeping each bucket's
/// maximum: a short spike of load or wait stays visible however long the trace.
struct Downsampler {
    first: usize,
    last: usize,
    tick: f64,
    unit_s: f64,
}

impl Downsampler {
    fn x(&self, j: usize) -> f64 {
        j as f64 * self.tick / self.unit_s
    }

    fn max_per_bucket(&self, value: impl Fn(usize) -> f64) -> Points {
        let bucket = (self.last - self.first).div_ceil(MAX_POINTS).max(1);
        (self.first..self.last)
            .step_by(bucket)
            .map(|start| {
                let end = (start + bucket).min(self.last);
                let y = (start..end).map(&value).fold(f64::NEG_INFINITY, f64::max);
                (self.x(start), y)
            })
            .collect()
    }

    /// The stretches `[from, to)` of ticks where `pick` holds, in the plot's unit.
    fn runs(&self, pick: impl Fn(usize) -> bool) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut open: Option<usize> = None;
        for j in self.first..self.last {
            match (pick(j), open) {
                (true, None) => open = Some(j),
                (false, Some(from)) => {
                    out.push((self.x(from), self.x(j)));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(from) = open {
            out.push((self.x(from), self.x(self.last)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_day_windows() {
        assert_eq!(
            "3:4.5".parse::<DayWindow>(),
            Ok(DayWindow {
                start_day: 3.0,
                end_day: 4.5
            })
        );
        for bad in ["3", "4:3", "a:2", "-1:2", "2:2"] {
            let err = bad.parse::<DayWindow>().unwrap_err();
            assert!(err.contains("START_DAY:END_DAY"), "{bad}: {err}");
        }
    }

    #[test]
    fn downsampling_keeps_each_bucket_maximum() {
        let d = Downsampler {
            first: 0,
            last: 3 * MAX_POINTS,
            tick: 15.0,
            unit_s: 15.0,
        };
        let points = d.max_per_bucket(|j| if j == 4 { 100.0 } else { j as f64 % 3.0 });
        assert_eq!(points.len(), MAX_POINTS);
        assert_eq!(points[0], (0.0, 2.0));
        assert_eq!(points[1], (3.0, 100.0), "a one-tick spike survives");
    }

    #[test]
    fn runs_are_the_stretches_picked() {
        let d = Downsampler {
            first: 0,
            last: 10,
            tick: 15.0,
            unit_s: 15.0,
        };
        assert_eq!(
            d.runs(|j| (2..4).contains(&j) || j >= 8),
            vec![(2.0, 4.0), (8.0, 10.0)]
        );
    }
}
