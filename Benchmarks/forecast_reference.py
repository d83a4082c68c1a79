#!/usr/bin/env python3
"""Reference forecasters for `augur forecast`: statsmodels Holt-Winters and statsforecast MSTL.

`holt_winters` and `mstl` are the references `forecast_benchmark.py` (make bench-forecast)
computes on every trace in the same run; run alone, this file prints refit Holt-Winters' MASE
for one CSV column under the protocol below.

Protocol (identical to ForecastCommand):
  * n observations; H-step horizon; K origins evenly spaced from floor(0.8 n) to n - H
    inclusive: origin_i = a + floor(i * (b - a) / (K - 1)), i = 0..K-1 (a if K == 1).
  * At origin o the model may use y[0:o] only and forecasts y[o], ..., y[o+H-1].
  * Reference model: ExponentialSmoothing(trend="add", damped_trend=True,
    seasonal="add", seasonal_periods=M), refit on the last `window` points (default 384,
    i.e. 8 days of half-hours) before each origin.
  * MASE = mean |forecast error| over all K*H forecasts, divided by the in-sample
    seasonal-naive MAE of the first 80%: mean |y[t] - y[t-M]| for t in M..floor(0.8 n)-1.

Usage:
  pip install statsmodels
  python3 Benchmarks/forecast_reference.py --csv /work/shared/data/taylor_halfhourly_demand.csv \
      --column demand_mw --period 48 --horizon 4 --origins 30
"""
import argparse
import csv
import math
import sys
import warnings

import numpy as np


def load_column(path, name):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    if name not in header:
        sys.exit(f"unknown column {name!r}; available: {header}")
    j = header.index(name)
    y = np.array([float(r[j]) for r in rows[1:] if r], dtype=float)
    if not np.all(np.isfinite(y)):
        sys.exit("non-finite value in series")
    return y


def holt_winters(history, period, horizon):
    """Refit damped additive-trend, additive-season Holt-Winters on `history`; H forecasts."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(history, trend="add", damped_trend=True, seasonal="add",
                                   seasonal_periods=period).fit()
    return np.asarray(fit.forecast(horizon))


def mstl(history, periods, horizon):
    """statsforecast MSTL (AutoETS trend) with every period that fits twice in `history`."""
    from statsforecast.models import MSTL
    usable = [p for p in periods if 2 * p < len(history)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MSTL(season_length=usable or [periods[0]])
        return np.asarray(model.forecast(y=history.astype(float), h=horizon)["mean"])


def origins(n, horizon, k):
    a = (8 * n) // 10
    b = n - horizon
    if k == 1:
        return [a]
    return [a + (i * (b - a)) // (k - 1) for i in range(k)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--column", required=True)
    p.add_argument("--period", type=int, default=48)
    p.add_argument("--horizon", type=int, default=4)
    p.add_argument("--origins", type=int, default=30)
    p.add_argument("--window", type=int, default=384, help="refit window (observations)")
    a = p.parse_args()

    y = load_column(a.csv, a.column)
    n, m, h = len(y), a.period, a.horizon
    train_end = (8 * n) // 10
    scale = float(np.mean(np.abs(y[m:train_end] - y[: train_end - m])))

    abs_errors = []
    for o in origins(n, h, a.origins):
        fc = holt_winters(y[max(0, o - a.window):o], m, h)
        abs_errors.extend(np.abs(y[o:o + h] - fc))

    mase = float(np.mean(abs_errors)) / scale
    print(f"n={n} origins={a.origins} horizon={h} period={m} window={a.window}")
    print(f"seasonal-naive in-sample MAE (scale) = {scale:.3f}")
    print(f"reference statsmodels Holt-Winters (damped additive trend, additive season {m}) "
          f"MASE = {mase:.4f} over {len(abs_errors)} forecasts")


if __name__ == "__main__":
    main()
