"""`report.html` of a reproduction: one self-contained page (figures embedded as data URIs,
no outside resources), one section per report in order, each with a table of its
comparisons (the report's number | udl at the report's setting | udl's best | the setting),
its stages' facts, tables and figures; and `comparisons.csv`, the same comparisons for
programs. Both are written from the run folder alone, so `udl report` can redo them."""

from __future__ import annotations

import base64
import csv
import datetime
import html
import io
import json
import os
from pathlib import Path
from typing import Any

from udl.app.plan import COMPARISONS, REPORTS, SETTINGS_FILE, Comparison, stage_file
from udl.app.runs import RunFolder

__all__ = ["COMPARISONS_FILE", "comparison_rows", "write_report"]

COMPARISONS_FILE = "comparisons.csv"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.better { color: #060; font-weight: bold; }
td.worse { color: #a00; font-weight: bold; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 46%; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
.missing { color: #a00; }
"""

Stages = dict[str, dict[str, dict[str, Any]]]  # report -> stage -> outcome


def write_report(run: RunFolder) -> Path:
    """Writes `report.html` and `comparisons.csv` into `run` from its stages and figures;
    returns the page's path.

    Raises:
        FileNotFoundError: if `run` holds no reproduction (no stages/settings.json).
    """
    settings_path = run.file(SETTINGS_FILE)
    if not settings_path.is_file():
        raise FileNotFoundError(f"{run.path} holds no `udl reproduce` run (no {settings_path})")
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    stages: Stages = {}
    for report, plan in REPORTS.items():
        for name in plan.stages:
            path = run.file(stage_file(report, name))
            if path.is_file():
                stages.setdefault(report, {})[name] = json.loads(path.read_text(encoding="utf-8"))
    rows = comparison_rows(stages)
    run.write_text(COMPARISONS_FILE, _csv(rows))
    return run.write_text("report.html", _page(run, settings, stages, rows))


def comparison_rows(stages: Stages) -> list[dict[str, Any]]:
    """Every comparison whose report has run: the report's number, udl's, udl's best and
    whether udl's reaches the bar ("better": True, False, or None without a bar or value)."""
    rows = []
    for comparison in COMPARISONS:
        if comparison.report not in stages:
            continue
        value = _value(stages, comparison.report, comparison.udl)
        best = (
            None if comparison.best is None else _value(stages, comparison.report, comparison.best)
        )
        rows.append(
            {
                "report": comparison.report,
                "experiment": comparison.experiment,
                "metric": comparison.metric,
                "reported": comparison.reported,
                "udl": value,
                "udl_best": best,
                "bar": comparison.bar,
                "higher_is_better": comparison.higher_is_better,
                "better": comparison.holds(value),
                "setting": comparison.setting,
                "best_target": comparison.best_target,
                "best_reached": comparison.holds(best, comparison.best_target)
                if comparison.best_target is not None
                else None,
                "best_setting": _best_setting(stages, comparison),
            }
        )
    return rows


def _best_setting(stages: Stages, comparison: Comparison) -> str:
    """The recipe udl's best ran, as its stage recorded it ("" before it ran)."""
    if comparison.best is None:
        return ""
    params = stages.get(comparison.report, {}).get(comparison.best[0], {}).get("params", {})
    return str(params.get(comparison.best_recipe, ""))


def _value(stages: Stages, report: str, where: tuple[str, str]) -> float | None:
    stage, key = where
    value = stages.get(report, {}).get(stage, {}).get("metrics", {}).get(key)
    return None if value is None else float(value)


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    fields = ["report", "experiment", "metric", "reported", "udl", "udl_best", "bar"]
    fields += ["higher_is_better", "better", "setting", "best_target", "best_reached"]
    fields += ["best_setting"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in fields})
    return out.getvalue()


def _page(run: RunFolder, settings: dict, stages: Stages, rows: list[dict[str, Any]]) -> str:
    from udl import __version__

    title = f"udl reproduction of the five reports ({settings['budget']} budget)"
    done = sum(len(s) for s in stages.values())
    total_stages = sum(len(p.stages) for p in REPORTS.values())
    seconds = sum(o.get("seconds", 0.0) for s in stages.values() for o in s.values())
    held = sum(1 for r in rows if r["better"] is True)
    judged = sum(1 for r in rows if r["better"] is not None)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>udl {html.escape(__version__)}, seed {settings['seed']}, {done} of "
        f"{total_stages} stages done in {seconds / 60:.1f} minutes; written "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M} on {html.escape(_machine())}.</p>",
        f"<p>Made by <code>{html.escape(_command(settings, stages))}</code>; "
        "<code>udl report RUN_DIR</code> rewrites this page and "
        f"<code>{COMPARISONS_FILE}</code> from the run folder.</p>",
        f"<p>udl reaches the bar in <strong>{held} of {judged}</strong> comparisons with a bar "
        "(the report's number, or udl's own where the report has none).</p>",
        "<ul>",
        *(
            f'<li><a href="#report-{r}">{html.escape(p.title)}</a> ({p.dataset})</li>'
            for r, p in REPORTS.items()
        ),
        "</ul>",
    ]
    for report, plan in REPORTS.items():
        parts.append(f'<h2 id="report-{report}">{html.escape(plan.title)}</h2>')
        parts.append(f"<p>Dataset: {plan.dataset}. {html.escape(plan.note)}</p>")
        report_stages = stages.get(report, {})
        if not report_stages:
            parts.append(
                '<p class="missing">Not run yet: run `udl reproduce --reports '
                f"{report}` on this folder.</p>"
            )
            continue
        parts.append(_comparison_table(report, [r for r in rows if r["report"] == report]))
        for name, stage_title in plan.stages.items():
            parts.append(f'<h3 id="stage-{report}-{name}">{html.escape(stage_title)}</h3>')
            stage = report_stages.get(name)
            if stage is None:
                parts.append(
                    '<p class="missing">Not run yet: rerun `udl reproduce --reports '
                    f"{report}` on this folder to finish.</p>"
                )
                continue
            parts.append(_stage_facts(stage))
            parts.extend(_table(table) for table in stage.get("tables", []))
            parts.extend(_figure(run, figure) for figure in stage.get("figures", []))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _command(settings: dict[str, Any], stages: Stages) -> str:
    words = ["udl reproduce", f"--budget {settings['budget']}", f"--seed {settings['seed']}"]
    if len(stages) < len(REPORTS):
        words.append(f"--reports {','.join(sorted(stages))}")
    if settings.get("subset") is not None:
        words.append(f"--subset {settings['subset']}")
    return " ".join(words)


def _machine() -> str:
    import platform

    import torch

    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def _number(value: Any, comparison_metric: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and (
        "accuracy" in comparison_metric or "share" in comparison_metric
    ):
        return f"{value:.2%}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _comparison_table(report: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No number of this report to compare with.</p>"
    lines = [
        f'<table class="comparisons" id="comparisons-{report}">',
        "<tr><th>experiment</th><th>metric</th><th>the report</th><th>udl at the report's "
        "setting</th><th>bar</th><th>udl's best (its target)</th><th>the setting</th></tr>",
    ]
    for row in rows:
        verdict = {True: "better", False: "worse", None: ""}[row["better"]]
        mark = {True: " ✓", False: " ✗", None: ""}[row["better"]]
        best_mark = {True: " ✓", False: " ✗", None: ""}[row["best_reached"]]
        best = _number(row["udl_best"], row["metric"]) + best_mark
        if row["best_target"] is not None:
            best += f" ({_bound(row, row['best_target'])})"
        bar = "—" if row["bar"] is None else _bound(row, row["bar"])
        setting = row["setting"] + (f"; best: {row['best_setting']}" if row["best_setting"] else "")
        lines.append(
            f"<tr><td>{html.escape(row['experiment'])}</td><td>{html.escape(row['metric'])}</td>"
            f"<td class=number>{_number(row['reported'], row['metric'])}</td>"
            f'<td class="number {verdict}">{_number(row["udl"], row["metric"])}{mark}</td>'
            f"<td class=number>{html.escape(bar)}</td>"
            f"<td class=number>{html.escape(best)}</td>"
            f"<td>{html.escape(setting)}</td></tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)


def _bound(row: dict[str, Any], value: float) -> str:
    return ("≥ " if row["higher_is_better"] else "≤ ") + _number(value, row["metric"])


def _table(table: dict[str, Any]) -> str:
    rows = table["rows"]
    if not rows:
        return ""
    columns = list(rows[0])
    lines = [
        f"<table><caption>{html.escape(table['caption'])}</caption>",
        "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>",
    ]
    for row in rows:
        cells = "".join(
            f"<td class=number>{html.escape(_number(row.get(c)))}</td>"
            if isinstance(row.get(c), (int, float))
            else f"<td>{html.escape(str(row.get(c)))}</td>"
            for c in columns
        )
        lines.append(f"<tr>{cells}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _stage_facts(stage: dict[str, Any]) -> str:
    facts = [f"{stage.get('seconds', 0.0):.0f} s"]
    for key in ("best_params", "params", "corruption"):
        if key in stage:
            settings = ", ".join(f"{k}={_short(v)}" for k, v in stage[key].items())
            facts.append(f"{key.replace('_', ' ')}: {settings}")
    if stage.get("stop_reason"):
        facts.append(f"stopped: {stage['stop_reason']}")
    metrics = ", ".join(
        f"{k}={_short(v)}" for k, v in stage.get("metrics", {}).items() if not isinstance(v, list)
    )
    if metrics:
        facts.append(f"metrics: {metrics}")
    return "<p>" + html.escape("; ".join(facts)) + "</p>"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _figure(run: RunFolder, figure: dict[str, str]) -> str:
    caption = html.escape(figure["caption"])
    path = run.file(figure["file"])
    if not path.is_file():
        return f'<p class="missing">Missing figure {html.escape(figure["file"])}</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )
