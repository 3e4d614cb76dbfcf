"""Replay a recording through the simulated board and the real firmware.

The firmware's Meter is built exactly as on the device, against the ADE7753
model's SPI bus, and ticks every board.TICK_MS of recording time. Before the
recording starts, its first mains cycle is repeated for `warmup_s` (10 s: the
no-load cut-off window has decided, and metering runs) so that the
chip's filters have settled as on a meter that has been running; what the
registers gain during the recording itself is the result. After the last
sample the supply and load go quiet for `flush_s`, so the energy still inside
the chip's LPF2 stage (up to one 20 ms block in the model) reaches AENERGY and
is counted; the readings (V, I, P, PF, f) are those of the last tick before.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import board as fw_board
import calibration as fw_cal
from meter import Meter

from .frontend import DEFAULT_BOARD, Board, load_board
from .simboard import SimBoard
from .waveforms import Recording


@dataclass
class ReplayResult:
    seconds: float
    import_wh: float
    export_wh: float
    vrms_v: float
    irms_a: float
    power_w: float
    pf: float
    frequency_hz: float
    true_wh: float
    error_pct: float | None
    ticks: int
    missed_intervals: int
    chip_resets: int

    def as_json(self) -> dict:
        return asdict(self)


def default_calibration_path(board_path: Path) -> Path:
    """A board's shipped calibration sits beside it: default.json -> default.cal.json."""
    return board_path.with_name(board_path.stem + ".cal.json")


def load_calibration(path: Path) -> fw_cal.Calibration:
    try:
        text = path.read_text()
    except OSError as e:
        raise fw_cal.CalibrationError(f"{path}: cannot read ({e.strerror})") from None
    return fw_cal.from_json(text, str(path))


def replay(rec: Recording, board: Board, cal: fw_cal.Calibration, *,
           tick_ms: int = fw_board.TICK_MS, warmup_s: float = 10.0, flush_s: float = 0.05) -> ReplayResult:
    sim = SimBoard(board)
    meter = Meter(sim.model.spi, sim.model.cs, cal, int(board.clkin_hz),
                  ib_ma=int(round(board.ib_a * 1000)), un_mv=int(round(board.un_v * 1000)))
    if not meter.start(sim.ticks_ms()):
        raise RuntimeError(f"simulated ADE7753 did not start: {meter.events.newest()}")
    fs = rec.fs_hz
    ticks = 0
    if warmup_s > 0:
        cycle = max(1, int(round(fs / board.fn_hz)))
        reps = max(1, int(math.ceil(warmup_s * fs / cycle)))
        v_warm = np.tile(rec.voltage_v[:cycle], reps)
        i_warm = np.tile(rec.current_a[:cycle], reps)
        step = max(1, int(round(fs * tick_ms / 1000.0)))
        for a in range(0, v_warm.size, step):  # ticking, so the cut-off window
            sim.feed(v_warm[a:a + step], i_warm[a:a + step], fs)  # has decided
            meter.tick(sim.ticks_ms())
    m = meter.metrology
    imp0, exp0 = m.energy_import.micro_wh(), m.energy_export.micro_wh()
    per_tick = fs * tick_ms / 1000.0
    n = rec.voltage_v.size
    start = 0
    k = 1
    while start < n:
        stop = min(n, int(round(k * per_tick)))
        if stop > start:
            sim.feed(rec.voltage_v[start:stop], rec.current_a[start:stop], fs)
            meter.tick(sim.ticks_ms())
            ticks += 1
        start = stop
        k += 1
    readings = (m.vrms_v(), m.irms_a(), m.power_w(), m.power_factor(), m.frequency_hz())
    if flush_s > 0:
        quiet = np.zeros(int(round(flush_s * fs)))
        sim.feed(quiet, quiet, fs)
        meter.tick(sim.ticks_ms())
    imp = (m.energy_import.micro_wh() - imp0) / 1e6
    exp = (m.energy_export.micro_wh() - exp0) / 1e6
    true_wh = rec.true_energy_wh()
    net = imp - exp
    err = (net - true_wh) / abs(true_wh) * 100.0 if abs(true_wh) > 1e-9 else None
    vrms, irms, power, pf, freq = readings
    return ReplayResult(
        seconds=rec.seconds, import_wh=imp, export_wh=exp, vrms_v=vrms, irms_a=irms,
        power_w=power, pf=pf, frequency_hz=freq, true_wh=true_wh,
        error_pct=err, ticks=ticks, missed_intervals=meter.missed_intervals, chip_resets=meter.chip_resets)


def resolve_board(board_path: str | None, cal_path: str | None) -> tuple[Board, fw_cal.Calibration]:
    bp = Path(board_path) if board_path else DEFAULT_BOARD
    board = load_board(bp)
    cp = Path(cal_path) if cal_path else default_calibration_path(bp)
    if not cp.exists() and not cal_path:
        raise fw_cal.CalibrationError(
            f"{cp}: board {bp.name} has no shipped calibration; pass --calibration "
            f"(make one with: python -m host_sim calibrate --board {bp} --out {cp})")
    return board, load_calibration(cp)
