"""Analog front end of a meter board: line volts/amps -> ADC pin volts.

A board JSON (host_sim/boards/*.json) describes the divider, the current sensor,
and the board's manufacturing errors: per-channel gain error, the current
sensor's phase error, DC offsets, ADC noise and the pin clamp. Its "chip" object
holds the ADE7753's own error terms (ade7753_model.Chip: ADC non-linearity, ADC
offsets, reference drift with temperature_c, channel phase skew; each field's
source is in Chip's docstring). The ADE7753 model takes it from the pins on.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from .ade7753_model import Chip

BOARDS_DIR = Path(__file__).resolve().parent / "boards"
DEFAULT_BOARD = BOARDS_DIR / "default.json"


class BoardError(ValueError):
    """A board file that cannot describe a meter; the message names file and key."""


@dataclass(frozen=True)
class Channel:
    ratio: float  # line units per pin volt at zero error (V/V divider, A/V shunt or CT burden)
    gain_error: float = 0.0  # relative, e.g. 0.02 = reads 2 % high
    phase_error_deg: float = 0.0  # at fn; positive = the pin signal lags the line quantity
    offset_v: float = 0.0  # DC at the pin
    noise_v_rms: float = 0.0  # white noise at the pin


@dataclass(frozen=True)
class Board:
    name: str
    clkin_hz: float
    un_v: float
    ib_a: float
    imax_a: float
    fn_hz: float
    meter_constant_imp_per_kwh: int
    ch1_pga: int  # PGA gains the calibration writes into GAIN
    ch2_pga: int
    voltage: Channel
    current: Channel
    clamp_v: float = 1.0  # input protection clamps the pins beyond this
    seed: int = 0
    # fraction of the voltage-pin signal coupled into the current pin (PCB
    # crosstalk): an in-phase power offset that only APOS calibration removes
    crosstalk_v_to_i: float = 0.0
    chip: Chip = field(default_factory=Chip)  # the ADE7753 part's own errors
    source: str = field(default="", compare=False)

    def ideal(self) -> "Board":
        """The same design without manufacturing errors (the design reference)."""
        return Board(
            name=self.name + "-ideal", clkin_hz=self.clkin_hz, un_v=self.un_v, ib_a=self.ib_a,
            imax_a=self.imax_a, fn_hz=self.fn_hz,
            meter_constant_imp_per_kwh=self.meter_constant_imp_per_kwh,
            ch1_pga=self.ch1_pga, ch2_pga=self.ch2_pga,
            voltage=Channel(self.voltage.ratio), current=Channel(self.current.ratio),
            clamp_v=self.clamp_v, seed=self.seed, crosstalk_v_to_i=0.0, chip=Chip(), source=self.source,
        )

    def gain_code(self) -> int:
        """GAIN register: CH1 PGA in [2:0], CH1 full scale 0.5 V, CH2 PGA in [7:5]."""
        codes = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4}
        return codes[self.ch1_pga] | (codes[self.ch2_pga] << 5)

    def to_json(self) -> str:
        d = {
            "name": self.name, "clkin_hz": self.clkin_hz, "un_v": self.un_v, "ib_a": self.ib_a,
            "imax_a": self.imax_a, "fn_hz": self.fn_hz,
            "meter_constant_imp_per_kwh": self.meter_constant_imp_per_kwh,
            "ch1_pga": self.ch1_pga, "ch2_pga": self.ch2_pga,
            "voltage": {f.name: getattr(self.voltage, f.name) for f in fields(Channel)},
            "current": {f.name: getattr(self.current, f.name) for f in fields(Channel)},
            "clamp_v": self.clamp_v, "seed": self.seed, "crosstalk_v_to_i": self.crosstalk_v_to_i,
            "chip": {f.name: getattr(self.chip, f.name) for f in fields(Chip)},
        }
        return json.dumps(d, indent=2) + "\n"


_PGAS = (1, 2, 4, 8, 16)


def _num(d: dict, key: str, where: str, lo: float, hi: float, default: float | None = None) -> float:
    if key not in d:
        if default is None:
            raise BoardError(f"{where}: '{key}' is missing")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise BoardError(f"{where}: '{key}' must be a number, got {v!r}")
    if not lo <= v <= hi:
        raise BoardError(f"{where}: '{key}' = {v} is outside {lo}..{hi}")
    return float(v)


def _channel(d: object, where: str) -> Channel:
    if not isinstance(d, dict):
        raise BoardError(f"{where}: must be an object")
    known = {f.name for f in fields(Channel)}
    for k in d:
        if k not in known:
            raise BoardError(f"{where}: unknown key '{k}' (known: {', '.join(sorted(known))})")
    return Channel(
        ratio=_num(d, "ratio", where, 1e-3, 1e7),
        gain_error=_num(d, "gain_error", where, -0.9, 0.9, 0.0),
        phase_error_deg=_num(d, "phase_error_deg", where, -10.0, 10.0, 0.0),
        offset_v=_num(d, "offset_v", where, -0.1, 0.1, 0.0),
        noise_v_rms=_num(d, "noise_v_rms", where, 0.0, 0.05, 0.0),
    )


# key -> (lo, hi): the ranges a board file may give (wider than a real part's, see random_chip)
_CHIP_RANGES = {
    "adc_cubic": (-0.01, 0.01), "ch1_offset_fs": (-0.05, 0.05), "ch2_offset_fs": (-0.05, 0.05),
    "ref_tempco_ppm_per_c": (-200.0, 200.0), "phase_skew_us": (-20.0, 20.0), "temperature_c": (-40.0, 85.0),
}


def _chip(d: object, where: str) -> Chip:
    if not isinstance(d, dict):
        raise BoardError(f"{where}: must be an object")
    for k in d:
        if k not in _CHIP_RANGES:
            raise BoardError(f"{where}: unknown key '{k}' (known: {', '.join(sorted(_CHIP_RANGES))})")
    default = Chip()
    return Chip(**{k: _num(d, k, where, lo, hi, getattr(default, k)) for k, (lo, hi) in _CHIP_RANGES.items()})


def load_board(path: str | Path) -> Board:
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise BoardError(f"{path}: no such board file") from None
    except (OSError, ValueError) as e:
        raise BoardError(f"{path}: not a readable JSON board file ({e})") from None
    if not isinstance(d, dict):
        raise BoardError(f"{path}: must be a JSON object")
    w = str(path)
    known = {"name", "clkin_hz", "un_v", "ib_a", "imax_a", "fn_hz", "meter_constant_imp_per_kwh",
             "ch1_pga", "ch2_pga", "voltage", "current", "clamp_v", "seed", "crosstalk_v_to_i", "chip", "comment"}
    for k in d:
        if k not in known:
            raise BoardError(f"{w}: unknown key '{k}'")
    for k in ("ch1_pga", "ch2_pga"):
        if d.get(k, 1) not in _PGAS:
            raise BoardError(f"{w}: '{k}' must be one of {_PGAS}")
    for k in ("voltage", "current"):
        if k not in d:
            raise BoardError(f"{w}: '{k}' channel is missing")
    return Board(
        name=str(d.get("name", path.stem)),
        clkin_hz=_num(d, "clkin_hz", w, 1e6, 1e7, 3_579_545.0),
        un_v=_num(d, "un_v", w, 50, 500),
        ib_a=_num(d, "ib_a", w, 0.1, 200),
        imax_a=_num(d, "imax_a", w, 0.1, 1000),
        fn_hz=_num(d, "fn_hz", w, 40, 70, 50.0),
        meter_constant_imp_per_kwh=int(_num(d, "meter_constant_imp_per_kwh", w, 1, 100_000)),
        ch1_pga=int(d.get("ch1_pga", 1)),
        ch2_pga=int(d.get("ch2_pga", 1)),
        voltage=_channel(d["voltage"], f"{w}: voltage"),
        current=_channel(d["current"], f"{w}: current"),
        clamp_v=_num(d, "clamp_v", w, 0.5, 10, 1.0),
        seed=int(_num(d, "seed", w, 0, 2**31, 0)),
        crosstalk_v_to_i=_num(d, "crosstalk_v_to_i", w, -0.01, 0.01, 0.0),
        chip=_chip(d.get("chip", {}), f"{w}: chip"),
        source=w,
    )


class _Delay:
    """Fractional-sample delay by linear interpolation, state kept across chunks."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._hist = np.zeros(0)

    def __call__(self, x: np.ndarray, fs: float) -> np.ndarray:
        if self.seconds <= 0.0:
            return x
        d = self.seconds * fs
        n = int(math.floor(d))
        frac = d - n
        need = n + 1
        if self._hist.size < need:
            self._hist = np.concatenate([np.zeros(need - self._hist.size), self._hist])
        xx = np.concatenate([self._hist[-need:], x])
        # y[k] = x(k - d) = (1-frac) x[k-n] + frac x[k-n-1]
        a = xx[need - n: need - n + x.size]
        b = xx[need - n - 1: need - n - 1 + x.size]
        self._hist = xx[-need:].copy()
        return (1.0 - frac) * a + frac * b


class FrontEnd:
    """Stateful conversion of line samples to the two ADC pin voltages."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self._rng = np.random.default_rng(board.seed)
        # A phase error is a small time shift at fn; a lead on one channel is
        # realised as the same lag on the other (the relative phase is what counts).
        rel = board.current.phase_error_deg - board.voltage.phase_error_deg
        shift = abs(rel) / 360.0 / board.fn_hz
        self._i_delay = _Delay(shift if rel > 0 else 0.0)
        self._v_delay = _Delay(shift if rel < 0 else 0.0)

    def pins(self, voltage_v: np.ndarray, current_a: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """(ch1 current-channel volts, ch2 voltage-channel volts) at the pins."""
        b = self.board
        v = voltage_v / b.voltage.ratio * (1.0 + b.voltage.gain_error)
        i = current_a / b.current.ratio * (1.0 + b.current.gain_error)
        v = self._v_delay(v, fs_hz) + b.voltage.offset_v
        i = self._i_delay(i, fs_hz) + b.current.offset_v + b.crosstalk_v_to_i * v
        if b.voltage.noise_v_rms:
            v = v + self._rng.normal(0.0, b.voltage.noise_v_rms, v.size)
        if b.current.noise_v_rms:
            i = i + self._rng.normal(0.0, b.current.noise_v_rms, i.size)
        return np.clip(i, -b.clamp_v, b.clamp_v), np.clip(v, -b.clamp_v, b.clamp_v)


def random_chip(rng: np.random.Generator, temperature_c: float = 25.0) -> Chip:
    """An ADE7753 drawn inside its datasheet: non-linearity that keeps the energy error
    within 0.1 % over 1000:1 (|0.75 c3 A^2| < 0.075 % up to full scale), ADC offsets of
    up to 0.5 % of full scale, reference drift within 30 ppm/degC, channel skew within
    2 us (0.036 deg at 50 Hz). Sources: ade7753_model.Chip's docstring."""
    return Chip(adc_cubic=float(rng.uniform(-0.001, 0.001)),
                ch1_offset_fs=float(rng.uniform(-0.005, 0.005)), ch2_offset_fs=float(rng.uniform(-0.005, 0.005)),
                ref_tempco_ppm_per_c=float(rng.uniform(-30.0, 30.0)),
                phase_skew_us=float(rng.uniform(-2.0, 2.0)), temperature_c=temperature_c)


def random_board(seed: int, base: Board) -> Board:
    """A board from the same design with random manufacturing errors (seeded):
    gains within ±5 %, relative phase inside PHCAL's range with margin, pin
    offsets of a few mV, ADC noise of tens of µV, V-to-I crosstalk up to 1e-5
    (a power offset of up to ~1 W, 1.8 % at 0.05 Ib before calibration)."""
    rng = np.random.default_rng(seed)
    return Board(
        name=f"{base.name}-random-{seed}", clkin_hz=base.clkin_hz, un_v=base.un_v, ib_a=base.ib_a,
        imax_a=base.imax_a, fn_hz=base.fn_hz, meter_constant_imp_per_kwh=base.meter_constant_imp_per_kwh,
        ch1_pga=base.ch1_pga, ch2_pga=base.ch2_pga,
        voltage=Channel(base.voltage.ratio, gain_error=float(rng.uniform(-0.05, 0.05)),
                        phase_error_deg=float(rng.uniform(-0.1, 0.1)),
                        offset_v=float(rng.uniform(-0.003, 0.003)),
                        noise_v_rms=float(rng.uniform(1e-5, 8e-5))),
        current=Channel(base.current.ratio, gain_error=float(rng.uniform(-0.05, 0.05)),
                        phase_error_deg=float(rng.uniform(-1.2, 0.5)),
                        offset_v=float(rng.uniform(-0.001, 0.001)),
                        noise_v_rms=float(rng.uniform(5e-6, 4e-5))),
        clamp_v=base.clamp_v, seed=seed, crosstalk_v_to_i=float(rng.uniform(-1e-5, 1e-5)),
        chip=random_chip(np.random.default_rng([seed, 7753]), base.chip.temperature_c),
        source=f"random_board({seed})",
    )
