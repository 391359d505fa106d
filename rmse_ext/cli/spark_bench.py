"""``rmse-ext bench --spark``: rmse_ext.spark.evaluate against Spark's own
``RegressionEvaluator`` on one cached DataFrame in ``local[2]`` (and, with
``by=``, 1,000 int keys and 50 string keys, against a
``groupBy().agg(sqrt(avg(...)))``, next to the floor every Python-side
evaluator pays: a ``mapInArrow`` that only counts the rows; ``nan_policy='omit'``
against the default), rounds interleaved (ours, theirs, ours, ...), medians.  Needs pyspark and java."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from ._format import aligned, columns


def interleaved(ours: Callable[[], Any], theirs: Callable[[], Any],
                repeat: int) -> tuple[float, float, Any, Any]:
    """Median seconds of each, alternating after one warm-up call of each
    (Python workers start, the plan is compiled), and the last value of each."""
    ours(), theirs()
    times: tuple[list[float], list[float]] = ([], [])
    values: list[Any] = [0.0, 0.0]
    for _ in range(repeat):
        for k, fn in enumerate((ours, theirs)):
            start = time.perf_counter()
            values[k] = fn()
            times[k].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1]), values[0], values[1]


def spark_rows(n: int, repeat: int) -> list[dict[str, Any]]:
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.sql import functions as F

    from .. import spark as rmse_spark

    session = rmse_spark.local_session(2)
    try:
        df = (session.range(n, numPartitions=2)
              .select(F.randn(1).alias("y"), (F.randn(2) * 0.5).alias("yhat"),
                      F.rand(3).alias("w"),
                      F.pmod(F.hash("id"), F.lit(GROUPS)).cast("int").alias("k"),
                      F.concat(F.lit("store-"), F.pmod(F.hash("id", F.lit(7)),
                                                       F.lit(STRING_GROUPS)).cast("string"))
                      .alias("s"))
              .cache())
        df.count()                                   # materialise the cache
        rows = []
        for weight in (None, "w"):
            named: dict[str, Any] = {"labelCol": "y", "predictionCol": "yhat"}
            if weight:
                named["weightCol"] = weight
            theirs = RegressionEvaluator(metricName="rmse", **named)
            ours_s, theirs_s, a, b = interleaved(
                lambda: whole_rmse(df, weight=weight),
                lambda: theirs.evaluate(df), repeat)
            rows.append({
                "section": "spark",
                "case": f"cached {n:.0e} rows{', weighted' if weight else ''}",
                "rmse_ext": ours_s, "baseline": theirs_s, "speedup": theirs_s / ours_s,
                "relative_difference": abs(a - b) / b,
                "target": ">= 1x", "ok": ours_s <= theirs_s,
            })
        rows.append(grouped_row(df, n, repeat, "k", GROUPS))
        rows.append(grouped_row(df, n, repeat, "s", STRING_GROUPS))
        rows.append(floor_row(df, n, repeat))
        rows.append(omit_row(df, n, repeat))
        df.unpersist()
        return rows
    finally:
        session.stop()


GROUPS = 1000           # random int keys
STRING_GROUPS = 50      # random string keys


def whole_rmse(df: Any, **options: Any) -> float:
    """``rmse_ext.spark.evaluate``'s one-row table for the whole frame, as a float."""
    from .. import spark as rmse_spark

    return float(rmse_spark.evaluate(df, "y", "yhat", **options)["rmse"].iloc[0])


def their_grouped_rmse(df: Any, key: str) -> Any:
    """Spark's own per-group RMSE, ``groupBy(key).agg(sqrt(avg((yhat - y)^2)))``,
    collected in key order (it never leaves the JVM)."""
    import numpy as np
    from pyspark.sql import functions as F

    rmse = F.sqrt(F.avg(F.pow(F.col("yhat") - F.col("y"), 2)))
    rows = df.groupBy(key).agg(rmse.alias("rmse")).orderBy(key).collect()
    return np.array([row["rmse"] for row in rows])


def grouped_row(df: Any, n: int, repeat: int, key: str, groups: int) -> dict[str, Any]:
    """``evaluate(df, ..., by=key)`` against Spark's own per-group RMSE."""
    import numpy as np

    from .. import spark as rmse_spark

    kind = "int" if key == "k" else "string"
    ours_s, theirs_s, a, b = interleaved(
        lambda: rmse_spark.evaluate(df, "y", "yhat", by=key)["rmse"].to_numpy(),
        lambda: their_grouped_rmse(df, key), repeat)
    return {"section": "spark", "case": f"cached {n:.0e} rows, by= ({groups} {kind} keys)",
            "rmse_ext": ours_s, "baseline": theirs_s, "speedup": theirs_s / ours_s,
            "relative_difference": float(np.max(np.abs(a - b) / b)),
            "target": ">= 0.8x", "ok": theirs_s / ours_s >= 0.8}


def _count_rows(batches: Any) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    rows = sum(batch.num_rows for batch in batches)
    yield pa.RecordBatch.from_pydict({"rows": pa.array([rows], pa.int64())})


def floor_row(df: Any, n: int, repeat: int) -> dict[str, Any]:
    """What any evaluator in Python pays before it computes anything: a
    ``mapInArrow`` that only counts the rows of y, yhat and the int key
    (Spark turning its cached rows into Arrow batches for the Python
    workers), against Spark's own ``groupBy().agg()``."""
    def floor() -> float:
        rows = df.select("y", "yhat", "k").mapInArrow(_count_rows, "rows long").collect()
        return float(sum(row["rows"] for row in rows))

    floor_s, theirs_s, a, _ = interleaved(floor, lambda: their_grouped_rmse(df, "k"), repeat)
    return {"section": "spark", "case": f"cached {n:.0e} rows: mapInArrow that only counts "
                                        f"rows vs groupBy (the floor)",
            "rmse_ext": floor_s, "baseline": theirs_s, "speedup": theirs_s / floor_s,
            "relative_difference": abs(a - n) / n, "target": "(reference)", "ok": True}


def omit_row(df: Any, n: int, repeat: int) -> dict[str, Any]:
    """``nan_policy='omit'`` against the default 'propagate' on the same
    cached rows (no NaN or null in them): what the policy costs."""
    from .. import spark as rmse_spark

    omit_s, propagate_s, a, b = interleaved(
        lambda: whole_rmse(df, nan_policy="omit"),
        lambda: whole_rmse(df, nan_policy="propagate"), repeat)
    return {"section": "spark", "case": f"cached {n:.0e} rows, nan_policy='omit' vs "
                                        f"'propagate' (baseline)",
            "rmse_ext": omit_s, "baseline": propagate_s, "speedup": propagate_s / omit_s,
            "relative_difference": abs(a - b) / b, "target": "<= 1.15x propagate",
            "ok": propagate_s / omit_s >= 1 / 1.15}


def spark_table(info: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    cols = columns("case", "rmse_ext", "baseline", "ratio", "target", "")
    widths = [w for _, w, _ in cols]
    lines = [
        "rmse_ext.spark.evaluate against pyspark.ml RegressionEvaluator (baseline; with "
        "by=, groupBy().agg), local[2], medians of interleaved rounds",
        "machine: {cpu}, {cores} CPUs usable, Python {python}, rmse_ext {rmse_ext} "
        "({kernel})".format(**info),
        f"load average before/after: {info.get('load_before')} / {info.get('load_after')}",
        "", aligned([head for head, _, _ in cols], widths),
    ]
    lines += [aligned([cell(r) for _, _, cell in cols], widths) for r in rows]
    lines += ["", "values agree to " + ", ".join(f"{r['relative_difference']:.1e}"
                                                for r in rows) + " relative"]
    return "\n".join(lines)
