#!/usr/bin/env python3
"""Score the predictive peers of issue 10's bar on a load trace, independently of prescale.

`seasonal-naive` and `holt-winters` as `shared/bench-reference.json` defines them ("peers"),
on the bench of `tools/rescore.py` (BENCH.md written from the text alone), with the
Holt-Winters fit done by statsmodels itself:
`ExponentialSmoothing(hourly, trend="add", damped_trend=True, seasonal="add",
seasonal_periods=24, initialization_method="estimated").fit()`.

It reproduces both reference files exactly where tried (every trace for seasonal-naive;
nab_elb_requests and worldcup98_2days for holt-winters, statsmodels 0.15.0 and scipy 1.17.1);
prescale's Rust peers are checked against it and against those files
(`tests/peers_reference.rs`). Needs numpy and statsmodels for holt-winters (a virtualenv:
`python3 -m venv /tmp/sm && /tmp/sm/bin/pip install statsmodels`). A 14-day trace takes a few
minutes (one fit per simulated hour).

Usage:
  python3 tools/peers_statsmodels.py --trace TRACE.csv --peer seasonal-naive|holt-winters [options]

Options are rescore.py's bench parameters (--startup, --slo-wait, --horizon-days, ...).
Prints one JSON object with the scores, as rescore.py does.
"""

from __future__ import annotations

import math
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rescore  # noqa: E402

DAY = 86400.0
HOUR = 3600.0


class HpaFloor(rescore.Hpa):
    """The HPA on utilisation with a floor between its raw value and its behaviour; the
    stabilisation window records the combined raw value."""

    def __init__(self, p):
        super().__init__("hpa", p)
        self.p = p


class SeasonalNaive(HpaFloor):
    """max(hpa raw, ceil(max rate of the ticks starting in [t - L + startup, t - L + 1800] / mu))."""

    def __init__(self, load, p):
        super().__init__(p)
        self.rates = [a / 15 for a in load.arr]  # read only at ticks already observed
        self.lag = 7 * DAY if load.end / DAY >= 14 else DAY

    def decide(self, j, obs):
        t = obs["t"]
        lo = t - self.lag + self.p.startup
        hi = t - self.lag + 1800
        first = max(0, math.ceil(lo / 15))
        last = min(math.floor(hi / 15), j - 1)
        floor = 0
        if last >= first:
            floor = rescore.ceil_(max(self.rates[first : last + 1]) / self.p.mu)
        return self.behave(t, obs["pods"], max(self.raw(obs), floor))


class HoltWinters(HpaFloor):
    """Every hour from 48 h on, statsmodels' fit to the hourly mean rates observed so far;
    max(hpa raw, ceil(forecast of the hour containing t + startup / (0.85 mu)))."""

    def __init__(self, load, p):
        super().__init__(p)
        import numpy as np
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        self.np = np
        self.model = ExponentialSmoothing
        self.lam = load.lam
        self.hours = 0
        self.forecast = None

    def refit(self, hours: int) -> None:
        np = self.np
        hourly = np.array(self.lam[: hours * 240]).reshape(hours, 240).mean(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = self.model(
                hourly, trend="add", damped_trend=True, seasonal="add",
                seasonal_periods=24, initialization_method="estimated",
            ).fit()
        steps = int(math.floor((HOUR + self.p.startup) / HOUR)) + 1
        self.forecast = (hours, list(fit.forecast(steps)))

    def decide(self, j, obs):
        t = obs["t"]
        if j > 0 and j % 240 == 0 and j // 240 >= 48:
            self.refit(j // 240)
        raw = self.raw(obs)
        if self.forecast is not None:
            first, rates = self.forecast
            k = int(math.floor((t + self.p.startup) / HOUR)) - first
            if 0 <= k < len(rates) and math.isfinite(rates[k]):
                raw = max(raw, rescore.ceil_(rates[k] / (0.85 * self.p.mu)))
        return self.behave(t, obs["pods"], raw)


def main(argv: list[str]) -> int:
    peer = None
    if "--peer" in argv:
        i = argv.index("--peer")
        peer = argv[i + 1] if i + 1 < len(argv) else None
        argv = argv[:i] + argv[i + 2 :]
    if peer not in ("seasonal-naive", "holt-winters"):
        print("peers_statsmodels: --peer seasonal-naive|holt-winters is required", file=sys.stderr)
        return 2
    p = rescore.parse_args(argv + ["--policy", "oracle"])
    try:
        step, values = rescore.read_trace(p.trace)
        load = rescore.Load(step, values, p)
    except rescore.InputError as e:
        print(f"peers_statsmodels: {e}", file=sys.stderr)
        return 2
    try:
        policy = SeasonalNaive(load, p) if peer == "seasonal-naive" else HoltWinters(load, p)
    except ImportError as e:
        print(f"peers_statsmodels: holt-winters needs numpy and statsmodels ({e})", file=sys.stderr)
        return 2
    oracle = rescore.simulate(load, p, rescore.Oracle(load, p))
    oracle_hours = sum(oracle["pods"][load.first_scored :]) * 15 / 3600
    out = rescore.score(load, p, rescore.simulate(load, p, policy), oracle_hours)
    out.update({"policy": peer, "ticks": load.ticks, "scored_ticks": load.ticks - load.first_scored})
    import json

    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
