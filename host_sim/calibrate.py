"""The datasheet calibration procedure, run against a reference source.

`Bench` is the seam: `SimBench` applies an ideal reference source to a
simulated board; a real bench implements the same three methods with a
programmable source and the firmware driver on the meter (see README,
"Calibrating a real board"). The procedure itself only talks to the chip
through the firmware's own ADE7753 driver, in line-cycle mode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

import ade7753 as regs  # firmware driver
import calibration as fw_cal
from ade7753_source import METER_MODE

from .frontend import Board
from .simboard import SimBoard


class CalibrationRefused(ValueError):
    """The board cannot be corrected within the chip's register ranges."""


class Bench(Protocol):
    chip: regs.ADE7753

    def set_source(self, v_rms: float, i_rms: float, phi_deg: float, freq_hz: float) -> None:
        """Reference source: fundamental rms values; current lags by phi_deg."""

    def advance(self, seconds: float) -> None:
        """Let the source run for this long."""


class SimBench:
    """An ideal reference source wired to a simulated board. Like a bench source it
    ramps to a new point (over RAMP_S) instead of jumping mid-cycle: a jump would leave a
    DC step that CH1's slow HPF (0.075 Hz) takes many seconds to forget."""

    RAMP_S = 0.5

    def __init__(self, board: Board, fs_hz: float = 8000.0) -> None:
        self.sim = SimBoard(board)
        self.chip = regs.ADE7753(self.sim.model.spi, self.sim.model.cs, int(board.clkin_hz))
        self.fs_hz = fs_hz
        self._n = 0
        self._f = board.fn_hz
        self._old = self._new = (0.0, 0j)  # (V peak, I peak phasor) before and after the ramp
        self._ramp_n = 0  # sample at which the ramp started

    def set_source(self, v_rms: float, i_rms: float, phi_deg: float, freq_hz: float) -> None:
        self._old = self._now(self._n)
        self._new = (math.sqrt(2) * v_rms, math.sqrt(2) * i_rms * complex(math.cos(math.radians(phi_deg)),
                                                                          -math.sin(math.radians(phi_deg))))
        self._ramp_n, self._f = self._n, freq_hz

    def _now(self, n):
        k = np.clip((n - self._ramp_n) / (self.RAMP_S * self.fs_hz), 0.0, 1.0)
        (v0, i0), (v1, i1) = self._old, self._new
        return v0 + (v1 - v0) * k, i0 + (i1 - i0) * k

    def advance(self, seconds: float) -> None:
        n = int(round(seconds * self.fs_hz))
        idx = self._n + np.arange(n)
        self._n += n
        w = 2 * math.pi * self._f * idx / self.fs_hz  # continuous phase across calls
        v_pk, i_ph = self._now(idx)
        v = v_pk * np.sin(w)
        i = np.imag(i_ph * np.exp(1j * w))  # |I| sin(wt - phi)
        self.sim.feed(v, i, self.fs_hz)


@dataclass
class Step:
    name: str
    condition: str
    measured: str  # what the step saw, with its unit
    result: str


@dataclass
class CalibrationResult:
    calibration: fw_cal.Calibration
    steps: list[Step] = field(default_factory=list)


def _line_cycle_lsb(bench: Bench, halfcycles: int, freq_hz: float) -> int:
    """LAENERGY over one complete accumulation of `halfcycles` half cycles."""
    chip = bench.chip
    chip.write(regs.LINECYC, halfcycles)
    chip.write(regs.MODE, METER_MODE | regs.MODE_CYCMODE)
    chip.read_raw(regs.RSTSTATUS)
    step = 1.0 / freq_hz / 2  # poll every half cycle
    ends = 0
    limit = int(3 * halfcycles + 20)
    for _ in range(limit):
        bench.advance(step)
        if chip.read_raw(regs.STATUS) & regs.ST_CYCEND:
            chip.read_raw(regs.RSTSTATUS)
            ends += 1
            if ends == 2:  # the first accumulation may have started mid-way
                value = chip.read(regs.LAENERGY)
                chip.write(regs.MODE, METER_MODE)
                return value
    raise CalibrationRefused("no CYCEND: the voltage channel shows no zero crossings")


def _rms(bench: Bench, freq_hz: float, reads: int = 10) -> tuple[float, float]:
    """Mean (VRMS, IRMS) over `reads` readings spread evenly over the phase of the rms
    filter's 2f ripple (a cycle plus 1/reads of a half cycle apart): readings a whole
    cycle apart would all sit at one point of the ripple, up to 0.3 % off."""
    # let the source ramp and LPF3 settle: a 100:1 step in the mean square needs ~16 of
    # LPF3's 0.32 s time constants to fall below 1e-5 of the new reading
    bench.advance(6.0)
    v = i = 0.0
    for _ in range(reads):
        bench.advance(1.0 / freq_hz + 1.0 / (2 * freq_hz) / reads)
        v += bench.chip.read_raw(regs.VRMS)
        i += bench.chip.read_raw(regs.IRMS)
    return v / reads, i / reads


def _configure(bench: Bench, values: dict) -> None:
    chip = bench.chip
    chip.software_reset()
    chip.identify()
    for reg, key in ((regs.GAIN, "gain"), (regs.CH1OS, "ch1os"), (regs.CH2OS, "ch2os"),
                     (regs.WGAIN, "wgain"), (regs.APOS, "apos"), (regs.PHCAL, "phcal"),
                     (regs.WDIV, "wdiv"), (regs.CFNUM, "cfnum"), (regs.CFDEN, "cfden"),
                     (regs.VRMSOS, "vrmsos"), (regs.IRMSOS, "irmsos")):
        chip.write(reg, values[key])
    chip.write(regs.MODE, METER_MODE)


def cfden_for(dfc_at_ib_hz: float, imp_per_kwh: float, p_ib_w: float) -> int:
    """Datasheet: CFDEN = round(CF nominal at Ib / CF expected at Ib) - 1, where
    CF nominal is the DFC rate (AENERGY LSB/s) and CF expected = imp/Wh x W / 3600."""
    cf_expected = imp_per_kwh / 1000.0 * p_ib_w / 3600.0
    return int(round(dfc_at_ib_hz / cf_expected)) - 1


def design_cfden(ideal_bench: Bench, board: Board, halfcycles: int) -> tuple[int, float]:
    """CFDEN for the design (same for every board): from the error-free twin."""
    values = _start_values(board, cfden=0x3F)
    _configure(ideal_bench, values)
    ideal_bench.set_source(board.un_v, board.ib_a, 0.0, board.fn_hz)
    lsb = _line_cycle_lsb(ideal_bench, halfcycles, board.fn_hz)
    rate = lsb / (halfcycles / 2 / board.fn_hz)  # DFC at Ib, LSB/s
    if rate < 1.0:
        raise CalibrationRefused(
            f"the design registers no energy at Un, Ib ({rate:.3f} LSB/s): check the board's ratios and PGA")
    return cfden_for(rate, board.meter_constant_imp_per_kwh, board.un_v * board.ib_a), rate


def _start_values(board: Board, cfden: int) -> dict:
    return {"clkin_hz": int(board.clkin_hz), "gain": board.gain_code(), "ch1os": 0, "ch2os": 0,
            "wgain": 0, "apos": 0, "phcal": 0x0D, "wdiv": 0, "cfnum": 0, "cfden": cfden,
            "vrmsos": 0, "irmsos": 0, "imp_per_kwh": board.meter_constant_imp_per_kwh,
            "vrms_lsb_ref": 1, "v_ref_mv": int(round(board.un_v * 1000)),
            "irms_lsb_ref": 1, "i_ref_ma": int(round(board.ib_a * 1000))}


def calibrate(board: Board, bench: Bench | None = None, *, halfcycles: int = 1000,
              offset_halfcycles: int = 6000) -> CalibrationResult:
    """Run gain, offset, phase and rms-offset calibration; return the record."""
    bench = bench or SimBench(board)
    steps: list[Step] = []
    fn, un, ib = board.fn_hz, board.un_v, board.ib_a
    cfden, dfc = design_cfden(SimBench(board.ideal()), board, halfcycles)
    if not 0 <= cfden <= 4095:
        raise CalibrationRefused(f"CFDEN {cfden} outside 0..4095: meter constant does not suit this front end")
    steps.append(Step("design", "ideal twin, Un, Ib, PF 1", f"DFC {dfc:.1f} LSB/s", f"CFDEN = {cfden}"))
    values = _start_values(board, cfden)
    _configure(bench, values)
    wh_per_lsb = 1.0 / ((cfden + 1) * board.meter_constant_imp_per_kwh / 1000.0)

    def expected_lsb(v: float, i: float, phi: float, hc: int) -> float:
        return v * i * math.cos(math.radians(phi)) * (hc / 2 / fn) / 3600.0 / wh_per_lsb

    def error(v: float, i: float, phi: float, hc: int) -> tuple[float, float]:
        bench.set_source(v, i, phi, fn)
        got = _line_cycle_lsb(bench, hc, fn)
        exp = expected_lsb(v, i, phi, hc)
        return got / exp - 1.0, got - exp

    def gain_step(name: str) -> None:
        # WGAIN scales what is there: correct relative to the value in force
        e, _ = error(un, ib, 0.0, halfcycles)
        old = values["wgain"]
        wgain = int(round(((1.0 + old / 4096) / (1.0 + e) - 1.0) * 4096))
        if not -2048 <= wgain <= 2047 or abs(e) > 0.5:
            raise CalibrationRefused(f"gain error {e * 100:+.1f} % at Ib is beyond WGAIN's ±50 % range")
        values["wgain"] = wgain
        bench.chip.write(regs.WGAIN, wgain)
        steps.append(Step(name, "Un, Ib, PF 1", f"error {e * 100:+.3f} %", f"WGAIN = {wgain}"))

    # 1. gain at Ib, PF 1
    gain_step("gain")

    # 2. offset at a low current, PF 1 (a long accumulation: few LSB per second)
    i_low = 0.05 * ib
    e, diff = error(un, i_low, 0.0, offset_halfcycles)
    seconds = offset_halfcycles / 2 / fn
    # LAENERGY is read in whole LSB: a difference of a couple of LSB is the
    # reading's own quantisation, not an offset, and is left uncorrected.
    # APOS is added before WGAIN (DS Fig. 63/65): the offset seen here is APOS's effect x WGAIN
    apos = 0 if abs(diff) <= 2.0 else int(round(-(diff / seconds) * 2**35 / board.clkin_hz
                                                 / (1 + values["wgain"] / 4096)))
    apos = max(-32768, min(32767, apos))
    values["apos"] = apos
    bench.chip.write(regs.APOS, apos)
    steps.append(Step("offset", "Un, 0.05 Ib, PF 1", f"error {e * 100:+.3f} %", f"APOS = {apos}"))
    if apos:
        gain_step("gain 2")  # the first gain step also absorbed the offset at Ib

    # 3. phase at Ib, PF 0.5 inductive
    e, _ = error(un, ib, 60.0, halfcycles)
    phase_deg = -math.degrees(math.asin(max(-1.0, min(1.0, e / math.sqrt(3)))))
    period = bench.chip.read_raw(regs.PERIOD) or board.clkin_hz / 8 / fn
    phcal = int(round(phase_deg * period / 360.0)) + 0x0D
    if not -32 <= phcal <= 31:
        raise CalibrationRefused(
            f"phase error {phase_deg:+.2f}° at Ib is beyond PHCAL's range (about -1.84°..+0.72°)")
    values["phcal"] = phcal
    bench.chip.write(regs.PHCAL, phcal)
    steps.append(Step("phase", "Un, Ib, PF 0.5 inductive", f"error {e * 100:+.3f} %", f"PHCAL = {phcal} ({phase_deg:+.3f}°)"))

    # 4. rms offsets at two points each, then the rms scale at Un / Ib
    v1, v2 = un, 0.2 * un
    i1, i2 = ib, 0.1 * ib
    bench.set_source(v1, i1, 0.0, fn)
    vr1, ir1 = _rms(bench, fn)
    bench.set_source(v2, i2, 0.0, fn)
    vr2, ir2 = _rms(bench, fn)
    vrmsos = int(round((v1 * vr2 - v2 * vr1) / (v2 - v1)))
    irmsos = int(round((i1**2 * ir2**2 - i2**2 * ir1**2) / (32768 * (i2**2 - i1**2))))
    vrmsos = max(-2048, min(2047, vrmsos))
    irmsos = max(-2048, min(2047, irmsos))
    values["vrmsos"], values["irmsos"] = vrmsos, irmsos
    bench.chip.write(regs.VRMSOS, vrmsos)
    bench.chip.write(regs.IRMSOS, irmsos)
    bench.set_source(un, ib, 0.0, fn)
    vref, iref = _rms(bench, fn)
    values["vrms_lsb_ref"] = int(round(vref))
    values["irms_lsb_ref"] = int(round(iref))
    steps.append(Step("rms", f"{v1:g}/{v2:g} V, {i1:g}/{i2:g} A", f"VRMS {vr1:.0f}/{vr2:.0f}",
                      f"VRMSOS = {vrmsos}, IRMSOS = {irmsos}, VRMS@Un = {vref:.0f}, IRMS@Ib = {iref:.0f}"))
    return CalibrationResult(fw_cal.make(values), steps)
