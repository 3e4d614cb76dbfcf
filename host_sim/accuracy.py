"""The IEC 62053-21 accuracy table on a simulated board, as a meter test bench runs it.

Each point synthesises a clean reference waveform, replays it through the
board and the firmware, and compares registered with true energy. The limits
are the class 1 limits of accuracy.md; this project's target is half of them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import calibration as fw_cal

from .frontend import Board
from .replay import replay
from .waveforms import synthesize

# (current as a multiple of Ib or "Imax" fraction, displacement PF, inductive)
PF_CASES = (("1", 1.0, True), ("0.5i", 0.5, True), ("0.8c", 0.8, False))
CURRENTS_PF1 = ("0.05Ib", "0.1Ib", "0.2Ib", "0.5Ib", "Ib", "2Ib", "0.5Imax", "Imax")
CURRENTS_REACTIVE = ("0.1Ib", "0.2Ib", "0.5Ib", "Ib", "2Ib", "0.5Imax", "Imax")


def current_a(label: str, board: Board) -> float:
    if label.endswith("Imax"):
        k = label[:-4]
        return (float(k) if k else 1.0) * board.imax_a
    k = label[:-2]
    return (float(k) if k else 1.0) * board.ib_a


def class1_limit_pct(i_over_ib: float, pf_label: str) -> float:
    """Class 1 percentage error limit (accuracy.md table)."""
    if pf_label == "1":
        return 1.5 if i_over_ib < 0.1 - 1e-9 else 1.0
    return 1.5 if i_over_ib < 0.2 - 1e-9 else 1.0


@dataclass
class Point:
    current: str
    i_a: float
    pf: str
    error_pct: float
    limit_pct: float  # the project's limit: half of class 1

    @property
    def ok(self) -> bool:
        return abs(self.error_pct) <= self.limit_pct


def measure(board: Board, cal: fw_cal.Calibration, i_a: float, pf: float, inductive: bool, *,
            v_rms: float | None = None, freq_hz: float | None = None, seconds: float | None = None,
            v_harmonics: dict | None = None, i_harmonics: dict | None = None, fs_hz: float = 8000.0) -> float:
    """Percentage error of registered vs true energy at one test point."""
    v = board.un_v if v_rms is None else v_rms
    f = board.fn_hz if freq_hz is None else freq_hz
    if seconds is None:
        # enough AENERGY LSB that the 1-LSB read quantisation stays < 0.02 %
        p = max(v * i_a * abs(pf), 1.0)
        seconds = min(60.0, max(4.0, 5000 / (p / 2200 * 1571)))
    rec = synthesize(seconds=seconds, fs_hz=fs_hz, v_rms=v, i_rms=i_a, pf=pf, inductive=inductive,
                     freq_hz=f, v_harmonics=v_harmonics, i_harmonics=i_harmonics, seed=1)
    r = replay(rec, board, cal)
    assert r.error_pct is not None
    return r.error_pct


def run_table(board: Board, cal: fw_cal.Calibration) -> list[Point]:
    points = []
    for pf_label, pf, inductive in PF_CASES:
        for label in CURRENTS_PF1 if pf_label == "1" else CURRENTS_REACTIVE:
            i = current_a(label, board)
            err = measure(board, cal, i, pf, inductive)
            points.append(Point(label, i, pf_label, err, class1_limit_pct(i / board.ib_a, pf_label) / 2))
    return points


def worst_per_row(tables: list[list[Point]]) -> list[Point]:
    """For each table row, the point with the largest |error| over all tables."""
    return [max(row, key=lambda p: abs(p.error_pct)) for row in zip(*tables)]


def write_report(points: list[Point], board: Board, out: Path) -> list[Path]:
    """error-vs-current plot per power factor, plus the table (markdown + JSON)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for pf_label, _, _ in PF_CASES:
        pts = [p for p in points if p.pf == pf_label]
        fig, ax = plt.subplots(figsize=(7, 4))
        xs = [p.i_a for p in pts]
        ax.semilogx(xs, [p.error_pct for p in pts], "o-", label="error")
        ax.semilogx(xs, [p.limit_pct for p in pts], "r--", label="project limit (½ class 1)")
        ax.semilogx(xs, [-p.limit_pct for p in pts], "r--")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("current (A)")
        ax.set_ylabel("error (%)")
        ax.set_title(f"{board.name}: error vs current, PF {pf_label}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        path = out / f"accuracy_pf_{pf_label.replace('.', '_')}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    lines = ["| current | I (A) | PF | error % | limit % | ok |", "|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p.current} | {p.i_a:g} | {p.pf} | {p.error_pct:+.4f} | ±{p.limit_pct:g} | {'yes' if p.ok else 'NO'} |")
    (out / "accuracy.md").write_text(f"# Accuracy: board {board.name}\n\n" + "\n".join(lines) + "\n")
    (out / "accuracy.json").write_text(json.dumps([asdict(p) | {"ok": p.ok} for p in points], indent=1))
    written += [out / "accuracy.md", out / "accuracy.json"]
    return written


def format_table(points: list[Point]) -> str:
    rows = [f"{'current':>8} {'I (A)':>7} {'PF':>5} {'error %':>9} {'limit %':>8}"]
    for p in points:
        flag = "" if p.ok else "  <-- outside"
        rows.append(f"{p.current:>8} {p.i_a:7.2f} {p.pf:>5} {p.error_pct:+9.4f} {p.limit_pct:8.2f}{flag}")
    return "\n".join(rows)

