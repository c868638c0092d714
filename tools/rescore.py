#!/usr/bin/env python3
"""Re-score a scaling schedule on a load trace, independently of prescale's Rust bench.

Written from `shared/BENCH.md` alone (without reading `src/simulate/`), so that the scores
prescale reports can be cross-checked by a second implementation of the same model.
Pure CPython 3.11 standard library.

Usage:
  python3 tools/rescore.py --trace TRACE.csv --decisions DECISIONS.csv [options]
  python3 tools/rescore.py --trace TRACE.csv --policy oracle|static|hpa|keda-queue [options]

DECISIONS.csv has the header `t,desired` and one row per tick (t = 15 * j); each value is
taken as the policy's return value at that tick (and still clamped to the bounds).
Prints one JSON object with the scores and facts about the load.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import csv
import json
import math
import sys

TICK = 15
DAY = 86400.0
EPS = 1e-9


class InputError(Exception):
    """Bad input (file, column, row): the message says where and how to fix it."""


def ceil_(x: float) -> int:
    """Every ceil of BENCH.md: ceil(x - 1e-9)."""
    return math.ceil(x - EPS)


# ---------------------------------------------------------------- input


def read_pairs(path: str, header: list[str], what: str):
    """Yield (line number, raw row, first, second) for each data row of a two-column CSV
    with `header`, the two columns read as numbers."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what}: {e}") from e
    if not rows or [c.strip() for c in rows[0]] != header:
        raise InputError(f"{path}:1: expected the header `{','.join(header)}`")
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise InputError(f"{path}:{n}: expected 2 columns, got {len(row)}")
        try:
            a, b = float(row[0]), float(row[1])
        except ValueError as e:
            raise InputError(f"{path}:{n}: not a number: {e}") from e
        yield n, row, a, b


def read_trace(path: str) -> tuple[int, list[float]]:
    """Read `timestamp_s,value`; return (step Δ in seconds, values)."""
    stamps: list[int] = []
    values: list[float] = []
    for n, _row, ts, v in read_pairs(path, ["timestamp_s", "value"], "trace"):
        if ts != int(ts) or not math.isfinite(v) or v < 0:
            raise InputError(
                f"{path}:{n}: timestamp must be a whole second and value a finite number >= 0"
            )
        stamps.append(int(ts))
        values.append(v)
    if len(stamps) < 2:
        raise InputError(f"{path}: need at least 2 data rows to know the step")
    step = stamps[1] - stamps[0]
    if stamps[0] != 0 or step <= 0 or step % TICK != 0:
        raise InputError(
            f"{path}: first timestamp must be 0 and the step a positive multiple of {TICK} s"
        )
    for i, ts in enumerate(stamps):
        if ts != i * step:
            raise InputError(f"{path}:{i + 2}: timestamp {ts} breaks the regular step {step}")
    return step, values


def read_decisions(path: str, ticks: int) -> list[int]:
    """Read `t,desired`, one row per tick of the horizon."""
    out: list[int] = []
    for n, row, t, d in read_pairs(path, ["t", "desired"], "decisions"):
        j = len(out)
        if t != TICK * j:
            raise InputError(f"{path}:{n}: expected t = {TICK * j} (one row per {TICK} s tick), got {row[0]}")
        if d != int(d):
            raise InputError(f"{path}:{n}: desired must be a whole number, got {row[1]}")
        out.append(int(d))
    if len(out) != ticks:
        raise InputError(
            f"{path}: {len(out)} decisions but the horizon has {ticks} ticks; "
            "export the schedule with the same trace and --horizon-days"
        )
    return out


# ---------------------------------------------------------------- load


def numpy_percentile(xs: list[float], q: float) -> float:
    """numpy.percentile(xs, q) with the default 'linear' method, bit for bit."""
    s = sorted(xs)
    n = len(s)
    qq = q / 100.0
    virtual = (n - 1) * qq
    lo = math.floor(virtual)
    hi = min(lo + 1, n - 1)
    g = virtual - lo
    a, b = s[lo], s[hi]
    diff = b - a
    if g >= 0.5:
        return b - diff * (1 - g)
    return a + diff * g


class Load:
    """The arrival rate per tick over the horizon (BENCH.md, Load)."""

    def __init__(self, step: int, values: list[float], p: argparse.Namespace):
        whole = len(values) * step
        cap = p.horizon_days * DAY
        horizon = min(float(whole), cap)
        self.ticks = int(math.floor(horizon / TICK + EPS))
        if self.ticks <= 0:
            raise InputError("the horizon holds no whole 15 s tick")
        self.end = float(self.ticks * TICK)
        hdays = self.end / DAY
        if p.warmup_days is not None:
            warmup = p.warmup_days * DAY
        elif hdays < 3:
            warmup = 0.5 * DAY
        elif hdays < 14:
            warmup = 1.0 * DAY
        else:
            warmup = 7.0 * DAY
        self.warmup = warmup
        # First tick starting at or after the warmup.
        self.first_scored = min(self.ticks, math.ceil(warmup / TICK - EPS))
        inside = [v for i, v in enumerate(values) if i * step < self.end]
        rates = [v / step for v in inside]
        self.r99 = numpy_percentile(rates, 99.0)
        if not self.r99 > 0:
            raise InputError("the 99th percentile of the rate is 0: the load cannot be scaled")
        self.k = p.peak_replicas * p.mu / self.r99
        lam_interval = [(self.k * v) / step for v in inside]
        self.max_lambda = max(lam_interval)
        per = step // TICK
        self.lam = [lam_interval[j // per] for j in range(self.ticks)]
        self.arr = [TICK * x for x in self.lam]


# ---------------------------------------------------------------- policies


class Replay:
    def __init__(self, desired: list[int]):
        self.desired = desired

    def decide(self, j: int, obs: dict) -> int:
        return self.desired[j]


class Oracle:
    """max(min, max over ticks starting in [t, t + startup] of ceil(λ_j / mu))."""

    def __init__(self, load: Load, p: argparse.Namespace):
        need = [ceil_(x / p.mu) for x in load.lam]
        ahead = int(math.floor(p.startup / TICK + EPS))  # ticks j+1..j+ahead start within startup
        n = len(need)
        self.want = [0] * n
        window: collections.deque[int] = collections.deque()
        # Sliding maximum over [j, j + ahead], scanning j downwards.
        for j in range(n - 1, -1, -1):
            while window and need[window[-1]] <= need[j]:
                window.pop()
            window.append(j)
            while window[0] > j + ahead:
                window.popleft()
            self.want[j] = max(p.min, need[window[0]])

    def decide(self, j: int, obs: dict) -> int:
        return self.want[j]


class Static:
    def __init__(self, load: Load, p: argparse.Namespace):
        self.n = ceil_(load.max_lambda / p.mu)

    def decide(self, j: int, obs: dict) -> int:
        return self.n


class Hpa:
    """The HPA on utilisation (target 0.7) or KEDA's queue-length trigger (30 per replica)."""

    WINDOW = 300.0

    def __init__(self, metric: str, p: argparse.Namespace):
        self.metric = metric
        self.mu = p.mu
        self.history: collections.deque[tuple[float, int]] = collections.deque()

    def decide(self, j: int, obs: dict) -> int:
        return self.behave(obs["t"], obs["pods"], self.raw(obs))

    def raw(self, obs: dict) -> int:
        """The recommendation before the behaviour: the metric's, with the 10 % tolerance."""
        pods = obs["pods"]
        if self.metric == "hpa":
            ready = obs["ready"]
            u = obs["completions"] / (15 * self.mu * ready) if ready > 0 else 0.0
            if abs(u / 0.7 - 1) <= 0.1:
                return pods
            return ceil_(ready * u / 0.7)
        q = obs["queue_depth"]
        ratio = q / (30 * pods) if pods > 0 else 0.0
        if abs(ratio - 1) <= 0.1:
            return pods
        return ceil_(q / 30)

    def behave(self, t: float, pods: int, raw: int) -> int:
        """The 300 s scale-down stabilisation window and the scale-up rate limit."""
        self.history.append((t, raw))
        while self.history[0][0] <= t - self.WINDOW:
            self.history.popleft()
        x = raw
        if raw < pods:
            x = min(pods, max(r for _, r in self.history))
        return min(x, max(2 * pods, pods + 4))


# ---------------------------------------------------------------- simulation


def simulate(load: Load, p: argparse.Namespace, policy) -> dict:
    n_ticks = load.ticks
    arr = load.arr
    mu = p.mu
    ready_times: list[float] = [0.0]  # sorted: new pods are ready latest
    b = 0.0
    prev_a = 0.0
    prev_s = 0.0
    prev_ready = 1
    backlog = [0.0] * (n_ticks + 1)
    pods_per_tick = [0] * n_ticks
    changed = [False] * n_ticks
    for j in range(n_ticks):
        t = float(TICK * j)
        pods = len(ready_times)
        obs = {
            "t": t,
            "queue_depth": b,
            "arrivals": prev_a,
            "completions": prev_s,
            "ready": prev_ready,
            "pods": pods,
        }
        d = policy.decide(j, obs)
        d = max(p.min, min(p.max, d))
        if d > pods:
            ready_times.extend([t + p.startup] * (d - pods))
        elif d < pods:
            del ready_times[d:]
        changed[j] = d != pods
        pods_per_tick[j] = d
        n = bisect.bisect_right(ready_times, t)
        a = arr[j]
        s = min(b + a, TICK * (mu * n))
        b = b + a - s
        backlog[j + 1] = b
        prev_a, prev_s, prev_ready = a, s, n
    return {"backlog": backlog, "pods": pods_per_tick, "changed": changed}


def waits(load: Load, backlog: list[float]) -> list[float]:
    """w_j = D⁻¹(A(m_j)) - m_j with A, D interpolated linearly between tick boundaries."""
    n = load.ticks
    arr = load.arr
    A = [0.0] * (n + 1)
    for j in range(n):
        A[j + 1] = A[j] + arr[j]
    D = [A[i] - backlog[i] for i in range(n + 1)]
    out = [0.0] * n
    k = 0  # smallest boundary index with D[k] >= x; monotone since x never decreases
    for j in range(n):
        m = TICK * j + 7.5
        x = A[j] + arr[j] / 2
        while k <= n and D[k] < x:
            k += 1
        if k > n:
            t = load.end
        elif k == 0:
            t = 0.0
        else:
            d0 = D[k - 1]
            t = TICK * (k - 1) + TICK * (x - d0) / (D[k] - d0)
        out[j] = t - m
    return out


def score(load: Load, p: argparse.Namespace, run: dict, oracle_hours: float | None) -> dict:
    w = waits(load, run["backlog"])
    f = load.first_scored
    arr = load.arr
    total = 0.0
    late = 0.0
    pairs = []
    for j in range(f, load.ticks):
        a = arr[j]
        wj = max(0.0, w[j])
        total += a
        if wj > p.slo_wait:
            late += a
        if a > 0:
            pairs.append((wj, a))
    pairs.sort(key=lambda x: x[0])
    p99 = 0.0
    if pairs:
        need = 0.99 * total
        cum = 0.0
        p99 = pairs[-1][0]
        for wj, a in pairs:
            cum += a
            if cum >= need:
                p99 = wj
                break
    hours = sum(run["pods"][f:]) * TICK / 3600
    out = {
        "late_fraction": late / total if total > 0 else 0.0,
        "p99_wait_s": p99,
        "replica_hours": hours,
        "scale_events": sum(1 for c in run["changed"][f:] if c),
    }
    if oracle_hours is not None:
        out["cost_vs_oracle"] = hours / oracle_hours if oracle_hours > 0 else math.nan
    return out


# ---------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", required=True, help="trace CSV `timestamp_s,value`")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--decisions", help="schedule CSV `t,desired`, one row per tick")
    src.add_argument("--policy", choices=["oracle", "static", "hpa", "keda-queue"],
                     help="run a reference policy of BENCH.md instead of replaying decisions")
    ap.add_argument("--mu", type=float, default=1.0)
    ap.add_argument("--peak-replicas", type=float, default=40.0)
    ap.add_argument("--startup", type=float, default=90.0)
    ap.add_argument("--slo-wait", type=float, default=60.0)
    ap.add_argument("--min", type=int, default=1)
    ap.add_argument("--max", type=int, default=200)
    ap.add_argument("--warmup-days", type=float, default=None,
                    help="default: 7, or 1 if the horizon is under 14 days, 0.5 under 3")
    ap.add_argument("--horizon-days", type=float, default=35.0)
    ap.add_argument("--oracle-hours", type=float, default=None,
                    help="the oracle's replica_hours; default: run the oracle here")
    p = ap.parse_args(argv)
    if not (p.mu > 0 and p.peak_replicas > 0 and p.startup >= 0 and 0 <= p.min <= p.max):
        ap.error("need mu > 0, peak-replicas > 0, startup >= 0 and 0 <= min <= max")
    return p


def main(argv: list[str]) -> int:
    p = parse_args(argv)
    try:
        step, values = read_trace(p.trace)
        load = Load(step, values, p)
        if p.decisions is not None:
            policy = Replay(read_decisions(p.decisions, load.ticks))
        elif p.policy == "oracle":
            policy = Oracle(load, p)
        elif p.policy == "static":
            policy = Static(load, p)
        else:
            policy = Hpa(p.policy, p)
    except InputError as e:
        print(f"rescore: {e}", file=sys.stderr)
        return 2
    oracle_hours = p.oracle_hours
    if oracle_hours is None:
        if isinstance(policy, Oracle):
            oracle_run = None
        else:
            oracle_run = simulate(load, p, Oracle(load, p))
        if oracle_run is not None:
            oracle_hours = sum(oracle_run["pods"][load.first_scored:]) * TICK / 3600
    run = simulate(load, p, policy)
    if oracle_hours is None:  # the oracle itself
        oracle_hours = sum(run["pods"][load.first_scored:]) * TICK / 3600
    out = score(load, p, run, oracle_hours)
    out.update({
        "ticks": load.ticks,
        "scored_ticks": load.ticks - load.first_scored,
        "r99_per_s": load.r99,
        "k": load.k,
    })
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
