"""The human side of a scenario run: a bill-like summary, plots and tables.

Everything shown is the run's report (the firmware's registers) or the time
series the runner sampled from them; nothing is recomputed here except the
plots' unit conversions.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from .run import RunResult
from .scenario import EPOCH, Scenario

RATE_NAMES = {"1": "peak (1)", "2": "high (2)", "3": "flat (3)", "4": "valley (4)"}
_MARK_STYLE = {"relay": ("tab:red", "|"), "alarm": ("tab:orange", "v"), "token": ("tab:green", "^"),
               "freeze": ("0.6", "."), "power_down": ("black", "x"), "clock_set": ("tab:purple", "d"),
               "button_s": ("tab:blue", "s")}


def _when(t_s: int) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=t_s)


def bill_lines(rep: dict[str, Any], s: Scenario) -> list[str]:
    cur = rep.get("currency", "")
    e, c = rep["energy_wh"], rep["cost"]
    out = [f"{'rate':<12}{'energy kWh':>14}{'cost ' + cur:>14}"]
    for r in ("1", "2", "3", "4"):
        out.append(f"{RATE_NAMES[r]:<12}{e['rates'][r] / 1000:>14.3f}{c['rates'][r]:>14}")
    out.append(f"{'total':<12}{e['import'] / 1000:>14.3f}{c['total']:>14}")
    out.append("")
    out.append(f"{'step tier':<12}{'':>14}{'cost ' + cur:>14}")
    for k, v in c["tiers"].items():
        out.append(f"{'tier ' + k:<12}{'':>14}{v:>14}")
    return out


def summary(rep: dict[str, Any], s: Scenario) -> str:
    """The bill-like text `run` prints."""
    kind = "postpaid" if s.prepay is None else f"prepaid ({s.prepay.mode})"
    lines = [f"scenario {s.path.name}: {rep['start']} .. {rep['end']}, {kind}, currency {rep.get('currency', '')}",
             f"  registered import {rep['energy_wh']['import'] / 1000:.3f} kWh, export "
             f"{rep['energy_wh']['export'] / 1000:.3f} kWh; the load drew {rep['true_energy_wh'] / 1000:.3f} kWh "
             "while supplied", ""]
    lines += ["  " + ln for ln in bill_lines(rep, s)]
    m = rep["money"]
    lines += ["", f"  money: balance {m['balance']}, credited {m['credited']}, deducted {m['deducted']}, "
              f"emergency debt {m['emergency_debt']}"]
    counts: dict[str, int] = {}
    for f in rep["freezes"]:
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    lines.append("  freezes: " + (", ".join(f"{n} {k}" for k, n in counts.items()) or "none"))
    for f in rep["freezes"]:
        if f["kind"] != "daily":
            bal = "" if f["balance"] is None else f", balance {f['balance']}"
            late = " (late)" if f.get("late") else ""
            lines.append(f"    {f['kind']:<14} {f['at']}{late}: import {f['import_wh'] / 1000:.3f} kWh{bal}")
    for t in rep["tokens"]:
        lines.append(f"  token  {t['at']}: {t['result']}, credit {t['credit']}")
    for a in rep["alarms"]:
        lines.append(f"  state  {a['at']}: {a['state']}")
    for r in rep["relay"]:
        lines.append(f"  relay  {r['at']}: {r['state']} ({r['reason']})")
    cuts = [e for e in rep["events"] if e["kind"] == "power_down"]
    for e in cuts:
        lines.append(f"  power  {e['at']}: cut for {e['detail']} s")
    lines.append(f"  run: {rep['passes']} loop passes, {rep['boots']} boots, {rep['faults']} faults, "
                 f"{rep['wall_s']:.1f} s")
    return "\n".join(lines)


def write_report(res: RunResult, s: Scenario, out: Path) -> list[Path]:
    """report.json, bill.md and plots.png under `out`; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    rep = res.report
    written = []
    p = out / "report.json"
    p.write_text(json.dumps(rep, indent=1))
    written.append(p)
    p = out / "bill.md"
    p.write_text(_markdown(rep, s))
    written.append(p)
    p = out / "plots.png"
    _plots(res, s, p)
    written.append(p)
    return written


def _markdown(rep: dict[str, Any], s: Scenario) -> str:
    cur = rep.get("currency", "")
    e, c = rep["energy_wh"], rep["cost"]
    md = [f"# {s.path.name}: {rep['start']} .. {rep['end']}", "",
          f"Registered import {e['import'] / 1000:.3f} kWh (the load drew {rep['true_energy_wh'] / 1000:.3f} kWh).",
          "", f"| rate | energy kWh | cost {cur} |", "| --- | ---: | ---: |"]
    for r in ("1", "2", "3", "4"):
        md.append(f"| {RATE_NAMES[r]} | {e['rates'][r] / 1000:.3f} | {c['rates'][r]} |")
    md.append(f"| **total** | {e['import'] / 1000:.3f} | {c['total']} |")
    md += ["", f"| step tier | cost {cur} |", "| --- | ---: |"]
    md += [f"| {k} | {v} |" for k, v in c["tiers"].items()]
    m = rep["money"]
    md += ["", "| balance | credited | deducted | emergency debt |", "| ---: | ---: | ---: | ---: |",
           f"| {m['balance']} | {m['credited']} | {m['deducted']} | {m['emergency_debt']} |"]
    md += ["", "## Freezes", "", "| at | kind | import kWh | rate 1..4 kWh | balance |", "| --- | --- | ---: | --- | ---: |"]
    for f in rep["freezes"]:
        rates = " / ".join(f"{f['rates_wh'][r] / 1000:.3f}" for r in ("1", "2", "3", "4"))
        md.append(f"| {f['at']}{' (late)' if f.get('late') else ''} | {f['kind']} | {f['import_wh'] / 1000:.3f} | "
                  f"{rates} | {f['balance'] if f['balance'] is not None else ''} |")
    for title, rows, cols in (("Tokens", rep["tokens"], ("at", "token", "result", "credit")),
                              ("Balance states", rep["alarms"], ("at", "state")),
                              ("Relay", rep["relay"], ("at", "state", "reason")),
                              ("Events", rep["events"], ("at", "kind", "source", "detail", "count"))):
        md += ["", f"## {title}", ""]
        if not rows:
            md.append("none")
            continue
        md += ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
        md += ["| " + " | ".join(str(r.get(k, "")) for k in cols) + " |" for r in rows]
    return "\n".join(md) + "\n"


def _plots(res: RunResult, s: Scenario, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sm = res.samples
    t = [_when(x.t_s) for x in sm]
    prepaid = s.prepay is not None
    rows = 4 if prepaid else 3
    fig, axes = plt.subplots(rows, 1, figsize=(12, 2.6 * rows), sharex=True)
    ax = axes[0]
    ax.step(t, [x.power_w / 1000 for x in sm], where="pre", lw=0.8)  # mean over the interval before
    ax.set_ylabel("load kW (mean)")
    ax.set_title(f"{s.path.name}: load, price, cost" + (", balance" if prepaid else ""))
    ax = axes[1]
    ax.step(t, [x.price_e4 / 10000 for x in sm], where="post", lw=0.8, color="tab:brown")
    colors = {1: "tab:red", 2: "tab:orange", 3: "tab:olive", 4: "tab:green"}
    top = max((x.price_e4 for x in sm), default=0) / 10000 or 1.0
    for r, color in colors.items():  # the rate in force as a coloured band
        ax.fill_between(t, 0, top, where=[x.rate == r for x in sm], step="post", color=color, alpha=0.15,
                        lw=0, label=f"rate {r}")
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    ax.set_ylabel("price / kWh")
    ax = axes[2]
    ax.plot(t, [x.cost_e4 / 10000 for x in sm], lw=1.0)
    ax.set_ylabel("cumulative cost")
    if prepaid:
        ax = axes[3]
        ax.step(t, [(x.balance_e4 or 0) / 10000 for x in sm], where="post", lw=1.0, color="tab:blue")
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_ylabel("balance")
    shown: set[str] = set()
    for ts, kind, label in res.markers:
        color, marker = _MARK_STYLE.get(kind, ("0.3", "o"))
        if kind != "freeze" or label != "daily":  # daily freezes: a dot only (365 lines would hide the rest)
            for a in axes:
                a.axvline(_when(ts), color=color, lw=0.5, alpha=0.4 if kind == "freeze" else 0.8)
        if kind != "freeze" or kind not in shown:
            axes[-1].plot([_when(ts)], [0], marker=marker, color=color, ls="",
                          label=kind if kind not in shown else None)
        shown.add(kind)
    axes[-1].legend(loc="upper right", fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
