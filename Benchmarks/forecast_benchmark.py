#!/usr/bin/env python3
"""Forecaster benchmark over several traces (issue 16), one command, one table.

For every trace: the ensemble's rolling-origin backtest (`augur forecast`, every origin of the
evaluated span), refit damped Holt-Winters (statsmodels) and MSTL (statsforecast), both from
forecast_reference.py, at the same evenly spaced origins, and, for generated traces where one
is known, the oracle: counts' true mean; for web_shift and short_long the best forecast from
the true mean and the true noise model at each origin (what no forecaster can beat on average,
so the distance from it to the better reference is the room the 0.9 criterion leaves).

Traces
  nyc_taxi     data/nyc_taxi_halfhourly.csv (in the repository, MIT, see data/README.md):
               half-hourly, periods 48 and 336, horizon 4.
  taylor       only with --taylor PATH (not redistributable): half-hourly, 48 and 336, horizon 4.
  co2          weekly CO2 at Mauna Loa, 1958-2001 (statsmodels.datasets.co2, public domain; its
               59 missing weeks, in runs of up to 18, interpolated linearly): period 52, a steady trend, a cycle of
               52.18 weeks that drifts against the period; horizon 13, a quarter of it.
  elnino       monthly sea-surface temperature, Nino 1+2, 1950-2010 (statsmodels.datasets.elnino,
               public domain): period 12, horizon 12, a whole period; 732 points.
  counts       generated: hourly Poisson counts, mean 2-11 a step, periods 24 and 168,
               horizon 12 — noise dominates.
  web_shift    generated: 5-minute requests, period 288, a +40 % level shift and a holiday
               (a weekday shaped like a night) in the first 80 %, AR(1) noise, horizon 12.
  business     generated: 15-minute load only 08:00-18:00 on weekdays, multiplicative noise,
               periods 96 and 672, horizon 16.
  short_long   generated: period 12, trend, AR(1) noise, 2,880 points, horizon 6 (half a period).
Every generator is seeded (--seed, default 16) and lives in this file.

Protocol (the same for every model, identical to `augur forecast`)
  * split "test": the whole series; origins in its last 20 % (o = floor(0.8 n) … n − H).
    split "validation": the series cut to its first 80 %, the same rule inside it — so the
    decisions made while developing never see the last 20 %.
  * The ensemble forecasts at every origin (coverage is counted per step over all of them).
    MASE of every model is taken at K (--origins, default 40) evenly spaced origins of those,
    scaled by the in-sample seasonal-naive MAE (first period) of the first 80 % of the series
    the split uses.
  * Holt-Winters: ExponentialSmoothing(trend add, damped, seasonal add at the first period),
    refit at every origin on the last max(384, 4 × period) points.  MSTL: statsforecast MSTL
    with every period of the trace (AutoETS trend), refit at every origin on the last
    max(384, 4 × longest period) points, at most what the origin has.
  * Criteria (issue 16): ensemble MASE ≤ 0.9 × the better reference; 80 % and 95 % coverage
    within 5 points of nominal at every step.

Usage (make bench-forecast does all of this):
  python3 Benchmarks/forecast_benchmark.py --augur .build/release/augur [--split test]
      [--taylor ../shared/data/taylor_halfhourly_demand.csv] [--origins 40] [--work DIR] [--members]
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forecast_reference import holt_winters, mstl  # noqa: E402  the references, one definition


# ---------------------------------------------------------------------------- generated traces

def counts_trace(rng):
    t = np.arange(24 * 7 * 20)
    weekend = (t % 168) >= 120
    mean = 6.0 * (1 + 0.8 * np.sin(2 * np.pi * t / 24)) * np.where(weekend, 1.3, 1.0)
    return rng.poisson(mean).astype(float), mean


def web_shift_trace(rng):
    n = 288 * 28
    t = np.arange(n)
    phase = (t % 288) / 288
    shape = 100 + 60 * np.sin(2 * np.pi * phase - 1.2) ** 2
    level = np.where(t >= int(0.45 * n), 1.4, 1.0)
    holiday = (t // 288) == 10
    shape = np.where(holiday, 100 + 10 * np.sin(2 * np.pi * phase), shape)
    mean = shape * level
    noise = np.zeros(n)
    e = rng.normal(0, 5, n)
    for i in range(1, n):
        noise[i] = 0.8 * noise[i - 1] + e[i]
    y = mean + noise + rng.normal(0, 4, n)
    return y, ar1_oracle(y, mean, phi=0.8, innovation_var=25.0, observation_var=16.0)


def ar1_oracle(y, mean, phi, innovation_var, observation_var):
    """The best forecast of y = mean + x + v, x an AR(1) (phi, innovation variance) seen through
    white noise v (observation variance; 0: x observed exactly), knowing the mean and the
    parameters: a Kalman filter's estimate of x from y[:o], decayed by phi^h. A function of the
    origin, for `evaluate`."""
    n = len(y)
    state = np.zeros(n)
    x, var = 0.0, innovation_var / (1 - phi * phi)
    for i in range(n):
        x_prior, var_prior = phi * x, phi * phi * var + innovation_var
        gain = var_prior / (var_prior + observation_var)
        x = x_prior + gain * (y[i] - mean[i] - x_prior)
        var = (1 - gain) * var_prior
        state[i] = x

    def forecast(o, horizon):
        return mean[o:o + horizon] + state[o - 1] * phi ** np.arange(1, horizon + 1)
    return forecast


def business_trace(rng):
    n = 672 * 16
    t = np.arange(n)
    hour = (t % 96) / 4
    day = (t // 96) % 7
    open_ = (hour >= 8) & (hour < 18) & (day < 5)
    bump = np.clip(np.sin(np.pi * (hour - 8) / 10), 0, None)
    mean = 2 + 300 * open_ * bump
    y = 2 + 300 * open_ * bump * rng.lognormal(0, 0.15, n) + np.clip(rng.normal(0, 1, n), -1.9, None)
    return y, None


def short_long_trace(rng):
    n = 2880
    t = np.arange(n)
    noise = np.zeros(n)
    e = rng.normal(0, 3, n)
    for i in range(1, n):
        noise[i] = 0.6 * noise[i - 1] + e[i]
    mean = 200 + 0.2 * t + 30 * np.sin(2 * np.pi * t / 12)
    y = mean + noise
    return y, ar1_oracle(y, mean, phi=0.6, innovation_var=9.0, observation_var=0.0)


GENERATED = [
    # name, generator, periods, horizon
    ("counts", counts_trace, [24, 168], 12),
    ("web_shift", web_shift_trace, [288], 12),
    ("business", business_trace, [96, 672], 16),
    ("short_long", short_long_trace, [12], 6),
]


# ---------------------------------------------------------------------------- protocol

def origins(n, horizon):
    return list(range((8 * n) // 10, n - horizon + 1))


def spaced(all_origins, k):
    if k >= len(all_origins):
        return list(all_origins)
    a, b = all_origins[0], all_origins[-1]
    return sorted({a + (i * (b - a)) // (k - 1) for i in range(k)})


def mase_scale(y, period):
    train = (8 * len(y)) // 10
    return float(np.mean(np.abs(y[period:train] - y[: train - period])))


def statsmodels_traces():
    """Two real series of other sampling intervals, seasonal lengths and horizons than the load
    traces, from the datasets statsmodels ships (public domain; statsmodels is installed for the
    references, so a fresh clone has them)."""
    from statsmodels.datasets import co2, elnino
    weekly = co2.load_pandas().data["co2"].interpolate().to_numpy(dtype=float)   # no gap at either end
    monthly = elnino.load_pandas().data.iloc[:, 1:].to_numpy(dtype=float).ravel()
    return [("co2", weekly, [52], 13, None), ("elnino", monthly, [12], 12, None)]


def read_column(path, column):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r[column]) for r in rows], dtype=float)


def write_series(path, y):
    with open(path, "w") as f:
        f.write("value\n")
        for v in y:
            f.write(f"{v:.6f}\n")


def run_augur(augur, csv_path, column, periods, horizon, count, out):
    args = [augur, "forecast", "--csv", csv_path, "--column", column, "--horizon", str(horizon),
            "--origins", str(count), "--output", out]
    for p in periods:
        args += ["--period", str(p)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode not in (0, 2):
        sys.exit(f"augur forecast failed on {csv_path}: {done.stderr.strip()}")
    rows, members = {}, {}
    with open(out, newline="") as f:
        for r in csv.DictReader(f):
            if r["model"] != "ensemble":
                members.setdefault(r["model"], {})[(int(r["origin"]), int(r["step"]))] = r
                continue
            rows[(int(r["origin"]), int(r["step"]))] = r
    return rows, members


# ---------------------------------------------------------------------------- one trace

def evaluate(name, y, periods, horizon, truth, args):
    n = len(y)
    span = origins(n, horizon)
    if len(span) < 2:
        sys.exit(f"{name}: series too short for horizon {horizon}")
    path = os.path.join(args.work, f"{name}.csv")
    write_series(path, y)
    rows, members = run_augur(args.augur, path, "value", periods, horizon, len(span),
                              os.path.join(args.work, f"{name}.forecasts.csv"))
    scale = mase_scale(y, periods[0])

    # Coverage per step over every origin of the span.
    coverage = []
    for h in range(1, horizon + 1):
        inside80 = inside95 = total = 0
        for o in span:
            r = rows.get((o, h))
            if r is None or r["lower80"] == "":
                continue
            actual = float(r["actual"])
            total += 1
            inside80 += float(r["lower80"]) <= actual <= float(r["upper80"])
            inside95 += float(r["lower95"]) <= actual <= float(r["upper95"])
        coverage.append((h, inside80 / max(total, 1), inside95 / max(total, 1), total))

    picked = spaced(span, args.origins)
    err = {"ensemble": [], "holt_winters": [], "mstl": [], "oracle": []}
    hw_window = max(384, 4 * periods[0])
    mstl_window = max(384, 4 * max(periods))
    for o in picked:
        actual = y[o:o + horizon]
        err["ensemble"].extend(abs(float(rows[(o, h)]["actual"]) - float(rows[(o, h)]["forecast"]))
                               for h in range(1, horizon + 1))
        err["holt_winters"].extend(np.abs(actual - holt_winters(y[max(0, o - hw_window):o], periods[0], horizon)))
        err["mstl"].extend(np.abs(actual - mstl(y[max(0, o - mstl_window):o], periods, horizon)))
        if callable(truth):
            err["oracle"].extend(np.abs(actual - truth(o, horizon)))
        elif truth is not None:
            err["oracle"].extend(np.abs(actual - truth[o:o + horizon]))
    mase = {k: (float(np.mean(v)) / scale if v else None) for k, v in err.items()}
    # Each member's MASE at the same origins, where it issued every step (a member still warming
    # up issues none): where the combination loses to one of its own members.
    member_mase = {}
    for model, forecasts in members.items():
        errors = []
        for o in picked:
            got = [forecasts.get((o, h)) for h in range(1, horizon + 1)]
            if any(r is None or r["forecast"] == "" for r in got):
                continue
            errors.extend(abs(float(r["actual"]) - float(r["forecast"])) for r in got)
        if errors:
            member_mase[model] = float(np.mean(errors)) / scale
    return {"name": name, "n": n, "periods": periods, "horizon": horizon, "origins": len(picked),
            "span": len(span), "mase": mase, "coverage": coverage, "members": member_mase}


def within_five_points(rate, nominal):
    # Inclusive, as the criterion reads: 342 of 456 is 75.00 %, within 5 points of 80 %, but
    # 0.75 - 0.8 is -0.05000000000000004 in binary floating point.
    return abs(rate - nominal) <= 0.05 + 1e-12


def fmt(v, digits=3):
    return "  –  " if v is None else f"{v:.{digits}f}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--augur", required=True, help="path to the augur binary")
    p.add_argument("--split", choices=["test", "validation"], default="test")
    p.add_argument("--origins", type=int, default=40, help="origins at which every model's MASE is taken")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--nyc", default=os.path.join(os.path.dirname(__file__), "..", "data", "nyc_taxi_halfhourly.csv"))
    p.add_argument("--taylor", help="taylor_halfhourly_demand.csv (column demand_mw), if available")
    p.add_argument("--work", help="scratch directory (default: a temporary one)")
    p.add_argument("--members", action="store_true",
                   help="also print every ensemble member's MASE at the same origins")
    args = p.parse_args()
    if args.origins < 2:
        sys.exit(f"--origins must be at least 2, got {args.origins}")
    cleanup = None
    if not args.work:
        cleanup = tempfile.TemporaryDirectory(prefix="augur-forecast-bench-")
        args.work = cleanup.name
    os.makedirs(args.work, exist_ok=True)

    traces = [("nyc_taxi", read_column(args.nyc, "passengers"), [48, 336], 4, None)]
    if args.taylor:
        traces.append(("taylor", read_column(args.taylor, "demand_mw"), [48, 336], 4, None))
    traces += statsmodels_traces()
    for i, (name, generate, periods, horizon) in enumerate(GENERATED):
        y, truth = generate(np.random.default_rng(args.seed + i))
        traces.append((name, y, periods, horizon, truth))

    results = []
    for name, y, periods, horizon, truth in traces:
        if args.split == "validation":
            cut = (8 * len(y)) // 10
            y = y[:cut]
            # An oracle function reads only up to its origin, and origins stay inside the cut.
            truth = truth[:cut] if isinstance(truth, np.ndarray) else truth
        results.append(evaluate(name, y, periods, horizon, truth, args))

    print(f"split: {args.split}; MASE at {args.origins} evenly spaced origins of the last 20 %; "
          f"coverage over every origin; seed {args.seed}")
    print(f"{'trace':<11} {'n':>6} {'periods':<8} {'H':>2}  {'ensemble':>8} {'HW':>6} {'MSTL':>6} {'oracle':>6}"
          f"  {'ratio':>5}  {'cov80 worst':>13}  {'cov95 worst':>13}  verdict")
    failures = 0
    for r in results:
        m = r["mase"]
        better = min(v for v in (m["holt_winters"], m["mstl"]) if v is not None)
        ratio = m["ensemble"] / better
        worst80 = max(r["coverage"], key=lambda c: abs(c[1] - 0.8))
        worst95 = max(r["coverage"], key=lambda c: abs(c[2] - 0.95))
        ok_mase = ratio <= 0.9
        ok_cov = all(within_five_points(c[1], 0.8) and within_five_points(c[2], 0.95) for c in r["coverage"])
        verdict = ("PASS" if ok_mase else "FAIL mase") + (" PASS" if ok_cov else " FAIL cov")
        failures += (not ok_mase) + (not ok_cov)
        periods = "/".join(map(str, r["periods"]))
        print(f"{r['name']:<11} {r['n']:>6} {periods:<8} {r['horizon']:>2}  {fmt(m['ensemble'])} {fmt(m['holt_winters'])}"
              f" {fmt(m['mstl'])} {fmt(m['oracle'])}  {ratio:5.2f}  "
              f"{worst80[1] * 100:5.1f}% (h={worst80[0]:>2})  {worst95[2] * 100:5.1f}% (h={worst95[0]:>2})  {verdict}")
    print(f"coverage counted over {', '.join(str(r['span']) for r in results)} origins per step (same order)")
    print("criteria: ensemble MASE ≤ 0.9 × the better of HW and MSTL; every step's coverage within 5 points of 80 % / 95 %")
    print(f"{failures} criterion failures")
    if args.members:
        print("each member's MASE at the same origins (the ensemble's in brackets; * = below it)")
        for r in results:
            ranked = sorted(r["members"].items(), key=lambda kv: kv[1])
            cells = "  ".join(f"{k} {v:.3f}{'*' if v < r['mase']['ensemble'] else ''}" for k, v in ranked)
            print(f"{r['name']:<11} [{r['mase']['ensemble']:.3f}]  {cells}")


if __name__ == "__main__":
    main()
