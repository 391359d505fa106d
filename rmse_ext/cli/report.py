"""``rmse-ext eval``'s answer in the one table schema (docs/semantics.md,
issue 18; the table is ``rmse_ext._results.ResultTable``'s, as for every
door): the key column under its own name, then ``rmse``, ``count``
(elements counted, an integer), ``weight_sum`` (the weights as they applied;
the element count when unweighted), ``omitted`` (always) and, with
``--ci``, ``ci_low`` / ``ci_high`` -- per group, and for the overall row
under the same names -- printed as plain text, JSON or CSV.

Keys: in JSON as the key codec writes them (``rmse_ext._keys.keys_to_json``,
as in ``get_state()``: bytes as hex strings, datetimes as integer ticks),
with ``"key_kind"`` naming their kind; in CSV and the table the same as
text, datetimes in ISO 8601 (``_format.key_cells``).

The overall row can never be read as a group's: JSON keeps it in its own
object, CSV marks every row's ``scope`` (``group`` / ``overall``), and the
aligned table prints it below the groups on its own ``overall:`` line.

>>> import numpy as np
>>> from rmse_ext import GroupedRootMeanSquaredError
>>> m = GroupedRootMeanSquaredError(dtype="float64")
>>> m.update_state([0.0, 0.0, 0.0], [1.0, 2.0, 2.0], ["b", "a", "a"])
>>> print_report(grouped_report(m, "store", None), "csv")
scope,store,rmse,count,weight_sum,omitted
group,a,2.0,2,2.0,0
group,b,1.0,1,1.0,0
overall,,1.7320508075688772,3,3.0,0
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Optional

import numpy as np

from .._keys import keys_to_json
from .._results import ResultTable
from ._format import json_number, key_cells, shortest, text_table

CI_COLUMNS = ("ci_low", "ci_high")

Report = dict[str, Any]


def ungrouped_report(metric: Any, elements: int, ci: Optional[float]) -> Report:
    """The overall row of a RootMeanSquaredError that has read ``elements``
    squared-error elements (omitted ones included)."""
    (overall,) = ResultTable.of(metric, ci=ci, count=elements - metric.omitted).records()
    return {"overall": in_dtype(overall, metric.dtype), "groups": None, "dtype": metric.dtype}


def grouped_report(metric: Any, name: str, ci: Optional[float]) -> Report:
    """The per-group columns and the overall row of a GroupedRootMeanSquaredError."""
    columns = dict(ResultTable.of(metric, {name: metric.keys()}, ci=ci).columns)
    columns["rmse"] = columns["rmse"].astype(metric.dtype)
    (overall,) = ResultTable.of(metric, ci=ci).records()
    return {"overall": in_dtype(overall, metric.dtype), "groups": columns, "key_column": name,
            "key_kind": metric.get_state()["kind"], "dtype": metric.dtype}


def in_dtype(row: dict[str, Any], dtype: str) -> dict[str, Any]:
    """The row with its rmse back in the metric's dtype (the table holds
    float64; a float32 result prints as float32's shortest decimal)."""
    return dict(row, rmse=np.dtype(dtype).type(row["rmse"]))


def combined_report(reports: list[Report], label: str, names: list[str]) -> Report:
    """Several results in one table (issue 20): a ``label`` column
    ('prediction' or 'output') after the key column, holding ``names[j]``
    on the rows of ``reports[j]``; one row per (group, name), the names in
    the order given; one overall row per name."""
    overall = [{label: name, **r["overall"]} for name, r in zip(names, reports)]
    combined: Report = {"overall": overall, "label": label, "dtype": reports[0]["dtype"],
                        "groups": None}
    if reports[0]["groups"] is None:
        return combined
    key = reports[0]["key_column"]
    groups = [r["groups"] for r in reports]
    width = len(groups[0][key])
    columns: dict[str, Any] = {key: np.repeat(np.asarray(groups[0][key]), len(names)),
                               label: np.array(names * width, dtype=object)}
    for column in groups[0]:
        if column != key:
            columns[column] = np.stack([np.asarray(g[column]) for g in groups],
                                       axis=-1).reshape(-1)
    combined.update(groups=columns, key_column=key, key_kind=reports[0]["key_kind"])
    return combined


# -- values as each output shows them ------------------------------------------------------

def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """Strict-JSON values: rmse as the shortest decimal of its dtype, counts
    as integers, non-finite numbers as "NaN" / "Infinity"."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name == "rmse":
            out[name] = json_number(shortest(value))
        elif name in ("count", "omitted"):
            out[name] = int(value)
        elif name in ("weight_sum", *CI_COLUMNS):
            out[name] = json_number(value)
        else:
            out[name] = value
    return out


def text_cell(name: str, value: Any) -> str:
    """A value as CSV and the aligned table show it."""
    if name == "rmse":
        return str(value)
    if name in ("count", "omitted"):
        return str(int(value))
    if name in ("weight_sum", *CI_COLUMNS):
        return repr(float(value))
    return str(value)


def group_rows(report: Report, as_json: bool) -> list[dict[str, Any]]:
    """One dict per group; the keys as the key codec writes them in JSON
    (``keys_to_json``) or as text (``key_cells``)."""
    columns = dict(report["groups"])
    name, kind = report["key_column"], report["key_kind"]
    columns[name] = (keys_to_json if as_json else key_cells)(kind, columns[name])
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


# -- output ------------------------------------------------------------------------------

def csv_table(report: Report, names: list[str], overall: list[dict[str, Any]]) -> str:
    """The CSV text: without groups a header of ``names`` and the overall
    rows; with groups ``scope``, the key column and ``names``, the group
    rows (``group``), then the overall rows (``overall``, the key empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if report["groups"] is None:
        writer.writerow(names)
        for row in overall:
            writer.writerow([text_cell(n, row[n]) for n in names])
        return buffer.getvalue()
    name = report["key_column"]
    writer.writerow(["scope", name, *names])
    for row in group_rows(report, as_json=False):
        writer.writerow(["group", text_cell(name, row[name]),
                         *(text_cell(n, row[n]) for n in names)])
    for row in overall:
        writer.writerow(["overall", "", *(text_cell(n, row[n]) for n in names)])
    return buffer.getvalue()


def print_report(report: Report, style: str, extra: Optional[dict[str, Any]] = None) -> None:
    """Print ``report`` as ``style`` ('text', 'json' or 'csv'); ``extra``:
    more fields of the JSON document (ci_level, ci_method, seconds)."""
    if "label" in report:
        print_combined(report, style, extra)
        return
    overall, groups = report["overall"], report["groups"]
    names = list(overall)
    if style == "json":
        doc: dict[str, Any]
        if groups is None:
            doc = json_row(overall)
        else:
            name = report["key_column"]
            doc = {"overall": json_row(overall),
                   "groups": [json_row(r) for r in group_rows(report, as_json=True)],
                   "key_column": name, "key_kind": report["key_kind"]}
        doc.update(extra or {}, dtype=report["dtype"])
        print(json.dumps(doc))
        return
    if style == "csv":
        print(csv_table(report, names, [overall]), end="")
        return
    if groups is None:
        print(str(overall["rmse"]))
        if "ci_low" in overall and extra:
            print(f"{extra['ci_level']:g} confidence interval ({extra['ci_method']}): "
                  f"{overall['ci_low']!r} {overall['ci_high']!r}")
        return
    header = list(groups)
    for line in text_table(header, [[text_cell(n, row[n]) for n in header]
                                    for row in group_rows(report, as_json=False)]):
        print(line)
    print()
    print("overall: " + "  ".join(f"{n} {text_cell(n, overall[n])}" for n in names))


def print_combined(report: Report, style: str, extra: Optional[dict[str, Any]]) -> None:
    """``print_report`` for a combined report: every row (and every overall
    row) carries the ``prediction`` / ``output`` field."""
    overall, groups, label = report["overall"], report["groups"], report["label"]
    names = list(overall[0])
    if style == "json":
        doc: dict[str, Any] = {"overall": [json_row(r) for r in overall], "label_column": label}
        if groups is not None:
            name = report["key_column"]
            doc.update(groups=[json_row(r) for r in group_rows(report, as_json=True)],
                       key_column=name, key_kind=report["key_kind"])
        doc.update(extra or {}, dtype=report["dtype"])
        print(json.dumps(doc))
        return
    if style == "csv":
        print(csv_table(report, names, overall), end="")
        return
    if groups is not None:
        header = list(groups)
        for line in text_table(header, [[text_cell(n, row[n]) for n in header]
                                        for row in group_rows(report, as_json=False)]):
            print(line)
        print()
        print("overall:")
    for line in text_table(names, [[text_cell(n, row[n]) for n in names] for row in overall]):
        print(line)
    if "ci_low" in names and extra:
        print(f"({extra['ci_level']:g} confidence intervals, {extra['ci_method']})")
