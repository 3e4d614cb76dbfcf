"""Voltage/current recordings for the simulator: load, write and synthesise.

A :class:`Recording` is a pair of equally long float64 arrays of instantaneous line
voltage (V) and line current (A) at one constant sample rate. Recordings come from

* COMTRADE files (IEEE C37.111 1999 and 2013; ``.cfg`` plus the ``.dat`` next to it,
  ASCII, BINARY, BINARY32 or FLOAT32), parsed with the ``comtrade`` package;
* CSV files with the header ``t_s,voltage_v,current_a``;
* the HFHAD-C hex format of real household appliances (:func:`load_hfhad`);
* :func:`synthesize` (sine waves with a displacement power factor, harmonics, DC
  offset and noise).

Bad input never escapes as a traceback: every problem with a file is raised as
:class:`RecordingError`, whose text is one line ``"<file>: <problem>"`` saying where
(line, row or channel) and why. Wrong arguments from code (a programming error, not a
bad file) raise plain :class:`ValueError`.

Host-only module (CPython 3.11+, numpy); the firmware never imports it.
"""

from __future__ import annotations

import binascii
import io
import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

import comtrade

__all__ = [
    "Recording",
    "RecordingError",
    "load_recording",
    "load_comtrade",
    "load_csv",
    "load_hfhad",
    "write_comtrade",
    "write_csv",
    "synthesize",
    "CSV_HEADER",
    "MIN_SECONDS",
    "COMTRADE_FORMATS",
]

#: The exact CSV header (field names, in order).
CSV_HEADER: tuple[str, str, str] = ("t_s", "voltage_v", "current_a")
#: Shortest accepted recording: one mains cycle at 50 Hz.
MIN_SECONDS = 0.02
#: A time step may deviate this much (relative) from the median step.
RATE_TOLERANCE = 0.01
#: DAT formats :func:`write_comtrade` can write, with the revisions allowing them.
COMTRADE_FORMATS: dict[str, tuple[int, ...]] = {
    "ASCII": (1999, 2013),
    "BINARY": (1999, 2013),
    "BINARY32": (2013,),
    "FLOAT32": (2013,),
}

HFHAD_FS_HZ = 6400.0
HFHAD_CURRENT_PER_A = 41.4738  # raw counts per ampere
HFHAD_MARKER = "FFFFFFFF"

# Largest integer magnitude written per format (the most negative code is the
# "missing data" marker in the binary formats; ASCII allows -99999..99998 and 99999
# means missing).
_INT_LIMIT = {"ASCII": 99998, "BINARY": 32767, "BINARY32": 2147483647}
_BINARY_ANALOG = {"BINARY": "<i2", "BINARY32": "<i4", "FLOAT32": "<f4"}
_BINARY_ANALOG_BYTES = {"BINARY": 2, "BINARY32": 4, "FLOAT32": 4}
_TIMESTAMP_MAX = 0xFFFFFFFE  # 0xFFFFFFFF means "timestamp missing"
_SUB = "\x1a"  # end-of-file character some DOS-era writers append


class RecordingError(ValueError):
    """A recording file cannot be used. ``str(err)`` is one line: ``"<file>: <problem>"``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # always a single line
        super().__init__(f"{self.path}: {self.problem}")


@dataclass(frozen=True, eq=False)
class Recording:
    """Instantaneous line voltage and current sampled at one constant rate.

    The arrays are stored as read-only float64 arrays (copied if the caller's were
    writeable), so a recording cannot change after it is made.
    """

    source: str  # file path, or a description such as "synthetic: 220 V 10 A PF 0.5i"
    fs_hz: float  # constant sample rate
    voltage_v: np.ndarray  # float64 instantaneous volts
    current_a: np.ndarray  # float64 instantaneous amps, same length

    def __post_init__(self) -> None:
        fs = float(self.fs_hz)
        if not (math.isfinite(fs) and fs > 0):
            raise ValueError(f"fs_hz must be a finite positive number, got {self.fs_hz!r}")
        object.__setattr__(self, "fs_hz", fs)
        object.__setattr__(self, "source", str(self.source))
        for name in ("voltage_v", "current_a"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.ndim != 1:
                raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
            if arr.flags.writeable:
                arr = arr.copy()
                arr.flags.writeable = False
            if not np.isfinite(arr).all():
                k = int(np.flatnonzero(~np.isfinite(arr))[0])
                raise ValueError(f"{name}[{k}] is {arr[k]} (values must be finite)")
            object.__setattr__(self, name, arr)
        if self.voltage_v.shape != self.current_a.shape:
            raise ValueError(
                f"voltage_v has {self.voltage_v.size} samples but current_a has {self.current_a.size}"
            )

    def __len__(self) -> int:
        return int(self.voltage_v.size)

    @property
    def seconds(self) -> float:
        """Duration: number of samples / sample rate."""
        return self.voltage_v.size / self.fs_hz

    @property
    def time_s(self) -> np.ndarray:
        """Sample times, starting at 0."""
        return np.arange(self.voltage_v.size) / self.fs_hz

    def true_energy_wh(self) -> float:
        """Reference active energy: sum(v*i) / fs / 3600 (Wh, negative = export)."""
        return float(np.dot(self.voltage_v, self.current_a)) / self.fs_hz / 3600.0

    def slice(self, start: int, stop: int) -> "Recording":
        """Samples ``start:stop`` (Python slice rules) as a new recording (shares memory)."""
        lo, hi, _ = slice(start, stop).indices(len(self))
        hi = max(hi, lo)
        return Recording(
            source=f"{self.source}[{lo}:{hi}]",
            fs_hz=self.fs_hz,
            voltage_v=self.voltage_v[lo:hi],
            current_a=self.current_a[lo:hi],
        )


# --------------------------------------------------------------------------------------
# Loading: dispatch and shared checks
# --------------------------------------------------------------------------------------


def load_recording(path: str | Path) -> Recording:
    """Load a COMTRADE ``.cfg`` (with its ``.dat``) or a ``.csv`` recording.

    Raises :class:`RecordingError` (one line: file, where, why) for any bad input.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".cfg":
        return load_comtrade(p)
    if suffix == ".csv":
        return load_csv(p)
    hint = " (give the .cfg file, the .dat is found next to it)" if suffix == ".dat" else ""
    raise RecordingError(
        p,
        f"unsupported recording type {p.suffix or '(no extension)'!r}: expected a COMTRADE "
        f".cfg file (with its .dat, IEEE C37.111 1999/2013) or a .csv file with header "
        f"'{','.join(CSV_HEADER)}'{hint}",
    )


def _read_bytes(path: Path, display: str | Path | None = None) -> bytes:
    where = path if display is None else display
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(where, "file not found") from None
    except IsADirectoryError:
        raise RecordingError(where, "is a directory, not a recording file") from None
    except OSError as exc:
        raise RecordingError(where, f"cannot read: {exc.strerror or exc}") from None
    return data


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _num(x: float) -> str:
    """Shortest exact text of a float, for messages."""
    return repr(float(x))


def _check_length(path: str | Path, n: int, fs: float) -> None:
    if n < 2:
        raise RecordingError(path, f"fewer than 2 samples (found {n})")
    seconds = n / fs
    if seconds < MIN_SECONDS * (1 - 1e-9):
        raise RecordingError(
            path,
            f"recording is {seconds:.6g} s long ({n} samples at {fs:.6g} Hz), "
            f"shorter than one mains cycle ({MIN_SECONDS} s)",
        )


def _check_times(
    path: str | Path, t: np.ndarray, where: Callable[[int], str], tick: float = 0.0
) -> float:
    """Check that times increase at a constant rate; return the sample rate (Hz).

    ``where(k)`` names sample ``k`` (0-based) for messages; ``tick`` is the time
    resolution of the source (a step may deviate by one tick besides the 1 %).
    """
    d = np.diff(t)
    bad = np.flatnonzero(~(d > 0))
    if bad.size:
        k = int(bad[0]) + 1
        if t[k] == t[k - 1]:
            why = f"time {_num(t[k])} s repeats the previous sample's time (time must increase)"
        else:
            why = f"time {_num(t[k])} s is not after {_num(t[k - 1])} s (time must increase)"
        raise RecordingError(path, f"{where(k)}: {why}")
    med = float(np.median(d))
    tol = RATE_TOLERANCE * med + tick
    bad = np.flatnonzero(np.abs(d - med) > tol)
    if bad.size:
        k = int(bad[0]) + 1
        dev = abs(d[k - 1] - med) / med * 100.0
        raise RecordingError(
            path,
            f"{where(k)}: time step {d[k - 1]:.6g} s (from {_num(t[k - 1])} s to {_num(t[k])} s) "
            f"deviates {dev:.3g} % from the median step {med:.6g} s "
            f"(the sample rate must be constant within {RATE_TOLERANCE * 100:g} %)",
        )
    return (t.size - 1) / float(t[-1] - t[0])


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def load_csv(path: str | Path) -> Recording:
    """Load a CSV recording: header ``t_s,voltage_v,current_a``, one sample per line."""
    p = Path(path)
    data = _read_bytes(p, path)
    if not data.strip():
        raise RecordingError(path, "file is empty (expected the header 't_s,voltage_v,current_a' and samples)")
    lines = _decode_text(data).splitlines()
    header = lines[0].strip()
    fields = tuple(f.strip() for f in header.split(","))
    if fields != CSV_HEADER:
        looks_like_data = len(fields) == 3 and all(_is_float(f) for f in fields)
        hint = " (the header line is missing)" if looks_like_data else ""
        raise RecordingError(
            path, f"line 1: header must be exactly '{','.join(CSV_HEADER)}', found {header[:80]!r}{hint}"
        )

    rows: list[tuple[float, float, float]] = []
    line_nos: list[int] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 3:
            raise RecordingError(
                path,
                f"line {lineno}: expected 3 fields ({','.join(CSV_HEADER)}), found {len(parts)} in {line.strip()[:80]!r}",
            )
        try:
            row = (float(parts[0]), float(parts[1]), float(parts[2]))
        except ValueError:
            for name, text in zip(CSV_HEADER, parts):
                if not _is_float(text):
                    raise RecordingError(path, f"line {lineno}: {name} {text.strip()!r} is not a number") from None
            raise  # pragma: no cover - unreachable
        if not (math.isfinite(row[0]) and math.isfinite(row[1]) and math.isfinite(row[2])):
            for name, value in zip(CSV_HEADER, row):
                if not math.isfinite(value):
                    raise RecordingError(path, f"line {lineno}: {name} is {value} (values must be finite numbers)")
        rows.append(row)
        line_nos.append(lineno)

    n = len(rows)
    if n < 2:
        raise RecordingError(path, f"fewer than 2 samples (found {n})")
    arr = np.array(rows, dtype=np.float64)
    fs = _check_times(path, arr[:, 0], lambda k: f"line {line_nos[k]}")
    _check_length(path, n, fs)
    return Recording(source=str(path), fs_hz=fs, voltage_v=arr[:, 1], current_a=arr[:, 2])


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(rec: Recording, path: str | Path) -> None:
    """Write ``rec`` as CSV (header ``t_s,voltage_v,current_a``); values round-trip exactly."""
    t = rec.time_s.tolist()
    v = rec.voltage_v.tolist()
    i = rec.current_a.tolist()
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(",".join(CSV_HEADER) + "\n")
        f.writelines(f"{a!r},{b!r},{c!r}\n" for a, b, c in zip(t, v, i))


# --------------------------------------------------------------------------------------
# COMTRADE
# --------------------------------------------------------------------------------------


def _text_lines(text: str) -> list[str]:
    """Lines as a text file opened in universal-newline mode gives them (ends kept)."""
    return io.StringIO(text, newline=None).readlines()


class _LineCounter:
    """File-like object for the comtrade CFG parser that remembers which line it gave last."""

    def __init__(self, text: str) -> None:
        self._lines = _text_lines(text)
        self.lineno = 0

    def readline(self) -> str:
        self.lineno += 1
        if self.lineno <= len(self._lines):
            return self._lines[self.lineno - 1]
        return ""

    @property
    def past_end(self) -> bool:
        return self.lineno > len(self._lines)


_UNIT_RE = re.compile(r"^([kKmM]?)([VvAa])$")
_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "m": 1e-3, "M": 1e6}


def _unit_kind(unit: str) -> tuple[str | None, float]:
    """('V' or 'A' or None, factor to volts/amps) for a COMTRADE unit text."""
    m = _UNIT_RE.match(unit.strip())
    if not m:
        return None, 1.0
    return m.group(2).upper(), _PREFIX[m.group(1)]


def _pick_channels(channels: list) -> tuple[int | None, int | None]:
    """First voltage and first current channel (by unit, else by name for unknown units)."""
    iv = ii = None
    for k, ch in enumerate(channels):
        kind, _ = _unit_kind(ch.uu)
        if kind is None:
            name = ch.name.strip().upper()
            kind = "V" if name[:1] in ("V", "U") else "A" if name[:1] == "I" else None
        if kind == "V" and iv is None:
            iv = k
        elif kind == "A" and ii is None:
            ii = k
    return iv, ii


def _find_dat(cfg: Path) -> Path | None:
    ext = cfg.suffix  # keep the case of the .cfg's extension first
    same_case = "".join(d.upper() if c.isupper() else d for c, d in zip(ext[1:], "dat"))
    for suffix in (f".{same_case}", ".dat", ".DAT", ".Dat"):
        candidate = cfg.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _parse_cfg(path: str | Path, text: str) -> comtrade.Cfg:
    lines = [line.rstrip("\n") for line in _text_lines(text)]
    line1 = lines[0].strip()
    if len(line1.split(",")) not in (2, 3) or not line1.isprintable():
        raise RecordingError(path, f"CFG line 1: expected 'station,device,rev_year', found {line1[:60]!r}")
    line2 = lines[1].strip() if len(lines) > 1 else ""
    m = re.fullmatch(r"(\d+)\s*,\s*(\d+)\s*[Aa]\s*,\s*(\d+)\s*[Dd]", line2)
    if not m:
        raise RecordingError(path, f"CFG line 2: expected channel counts 'TT,##A,##D', found {line2[:60]!r}")
    total, analog, status = (int(g) for g in m.groups())
    if total != analog + status:
        raise RecordingError(path, f"CFG line 2: total channel count {total} is not {analog} analog + {status} status")
    if 2 + total > len(lines):
        raise RecordingError(
            path, f"CFG line 2: announces {total} channels but the file has only {len(lines)} lines"
        )
    counter = _LineCounter(text)
    cfg = comtrade.Cfg(ignore_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cfg.read(counter)
        except Exception as exc:  # the comtrade package raises many kinds
            where = "unexpected end of the CFG" if counter.past_end else f"CFG line {counter.lineno}"
            raise RecordingError(
                path, f"{where}: not a valid COMTRADE configuration ({type(exc).__name__}: {exc})"
            ) from None
    rates_line = 2 + cfg.analog_count + cfg.status_count + 3
    rates = cfg.sample_rates
    ft_line = rates_line + len(rates) + 2
    if len(lines) < ft_line:
        raise RecordingError(
            path,
            f"unexpected end of the CFG after line {len(lines)}: the data file format belongs "
            f"on line {ft_line} (the file looks truncated)",
        )
    if rates[-1][1] < 0 or any(not math.isfinite(s) or s < 0 for s, _ in rates):
        raise RecordingError(path, f"CFG line {rates_line}: invalid sample rate/end sample {rates}")
    if not cfg.timestamp_critical:
        if any(s == 0 for s, _ in rates):
            raise RecordingError(
                path,
                f"CFG line {rates_line}: sample rate is 0 but nrates is not 0 "
                f"(timestamps are only used when nrates is 0)",
            )
        first = rates[0][0]
        if any(abs(s - first) > 1e-9 * first for s, _ in rates):
            listed = ", ".join(f"{s:g} Hz" for s, _ in rates)
            raise RecordingError(
                path, f"CFG line {rates_line}: non-constant sample rate ({len(rates)} rates: {listed})"
            )
    ft = cfg.ft.strip().upper()
    if ft not in ("ASCII", "BINARY", "BINARY32", "FLOAT32"):
        raise RecordingError(
            path, f"CFG: data file format {cfg.ft!r} is not ASCII, BINARY, BINARY32 or FLOAT32"
        )
    return cfg


def _prevalidate_ascii_dat(dat: Path, text: str, total: int, fields: int) -> None:
    lines = text.splitlines()
    while lines and not lines[-1].replace(_SUB, "").strip():
        lines.pop()
    if len(lines) < total:
        raise RecordingError(
            dat, f"truncated: {len(lines)} data lines, but the CFG announces {total} samples"
        )
    for k in range(total):
        count = lines[k].count(",") + 1
        if count != fields:
            raise RecordingError(
                dat,
                f"line {k + 1}: expected {fields} fields (sample number, time stamp and "
                f"the channels), found {count}",
            )


def _locate_ascii_error(dat: Path, text: str, total: int) -> RecordingError | None:
    for k, line in enumerate(text.splitlines()[:total]):
        parts = line.strip().split(",")
        for j, part in enumerate(parts):
            if j == 1 and not part.strip():
                continue  # a blank (non-critical) time stamp is allowed
            if not _is_float(part):
                return RecordingError(dat, f"line {k + 1}: field {j + 1} {part.strip()!r} is not a number")
        try:
            int(parts[0])
        except ValueError:
            return RecordingError(dat, f"line {k + 1}: sample number {parts[0].strip()!r} is not an integer")
    return None


def load_comtrade(path: str | Path) -> Recording:
    """Load a COMTRADE recording from its ``.cfg`` and the ``.dat`` next to it.

    The first voltage channel (unit V/kV, or a name starting with V or U) and the first
    current channel (unit A/kA, or a name starting with I) are used; kV/kA (and
    mV/mA) are converted to V/A, secondary values (PS flag ``S``) to primary.
    """
    p = Path(path)
    raw = _read_bytes(p, path)
    if not raw.strip():
        raise RecordingError(path, "file is empty (expected a COMTRADE configuration)")
    cfg_text = _decode_text(raw)
    cfg = _parse_cfg(path, cfg_text)

    chans = cfg.analog_channels
    iv, ii = _pick_channels(chans)
    names = ", ".join(f"{c.name!r} [{c.uu}]" for c in chans) or "none"
    if iv is None:
        raise RecordingError(
            path,
            f"no voltage channel (unit V or kV, or a name starting with V or U) among the analog channels: {names}",
        )
    if ii is None:
        raise RecordingError(
            path,
            f"no current channel (unit A or kA, or a name starting with I) among the analog channels: {names}",
        )
    for k in (iv, ii):
        ch = chans[k]
        if not (math.isfinite(ch.a) and ch.a != 0 and math.isfinite(ch.b)):
            raise RecordingError(
                path, f"CFG line {3 + k}: channel {ch.name!r} has an unusable multiplier a={ch.a!r}, offset b={ch.b!r}"
            )

    dat = _find_dat(p)
    if dat is None:
        raise RecordingError(
            path, f"data file {p.with_suffix('.dat').name} not found next to it (a COMTRADE recording needs its .dat)"
        )
    dat_bytes = _read_bytes(dat)
    total = int(cfg.sample_rates[-1][1])
    ft = cfg.ft.strip().upper()
    empty = not dat_bytes.replace(_SUB.encode(), b"").strip() if ft == "ASCII" else len(dat_bytes) == 0
    if empty:
        raise RecordingError(dat, f"file is empty (the CFG announces {total} samples)")

    dat_content: bytes | str
    if ft == "ASCII":
        dat_content = _decode_text(dat_bytes)
        _prevalidate_ascii_dat(dat, dat_content, total, 2 + cfg.analog_count + cfg.status_count)
    else:
        row = 8 + cfg.analog_count * _BINARY_ANALOG_BYTES[ft] + 2 * math.ceil(cfg.status_count / 16)
        if len(dat_bytes) < total * row:
            raise RecordingError(
                dat,
                f"truncated: {len(dat_bytes)} bytes, but the CFG announces {total} samples of "
                f"{row} bytes ({total * row} bytes)",
            )
        dat_content = dat_bytes

    record = comtrade.Comtrade(use_numpy_arrays=True, use_double_precision=True, ignore_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            record.read(_LineCounter(cfg_text), dat_content)  # same lines as _parse_cfg saw
        except Exception as exc:  # wrap whatever the comtrade package raises
            located = _locate_ascii_error(dat, dat_content, total) if isinstance(dat_content, str) else None
            if located is not None:
                raise located from None
            raise RecordingError(dat, f"cannot read the data ({type(exc).__name__}: {exc})") from None

    t = np.asarray(record.time, dtype=np.float64)
    channels = []
    for k in (iv, ii):
        ch = chans[k]
        values = np.asarray(record.analog[k], dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            j = int(bad[0])
            raise RecordingError(
                dat,
                f"row {j + 1}: channel {ch.name!r} has no value (missing-data code or overflow; values must be finite)",
            )
        _, factor = _unit_kind(ch.uu)
        if ch.pors.strip().upper() == "S":
            if not (ch.primary > 0 and ch.secondary > 0):
                raise RecordingError(
                    path,
                    f"CFG line {3 + k}: channel {ch.name!r} holds secondary values but its "
                    f"primary/secondary ratio {ch.primary!r}/{ch.secondary!r} is unusable",
                )
            factor *= ch.primary / ch.secondary
        channels.append(values * factor if factor != 1.0 else values)

    if t.size < 2:
        raise RecordingError(path, f"fewer than 2 samples (found {t.size})")
    if cfg.timestamp_critical:  # nrates = 0: the DAT time stamps are the sample times
        fs = _check_times(dat, t, lambda k: f"row {k + 1}", cfg.time_base * cfg.timemult)
    else:  # the package timed each row from its sample number and the CFG rate
        fs = float(cfg.sample_rates[0][0])
        numbers = np.rint(t * fs) + 1
        bad = np.flatnonzero(np.diff(numbers) != 1)
        if bad.size:
            k = int(bad[0]) + 1
            raise RecordingError(
                dat,
                f"row {k + 1}: sample number {numbers[k]:.0f} does not follow {numbers[k - 1]:.0f} "
                f"(sample numbers must count up by 1 at a constant sample rate)",
            )
    _check_length(path, t.size, fs)

    skews = (chans[iv].skew * 1e-6, chans[ii].skew * 1e-6)
    if skews[0] != skews[1]:
        # Each channel was sampled `skew` after the row's time: bring both onto the
        # row times so that the phase between voltage and current is right.
        grid = np.arange(t.size) / fs
        channels = [np.interp(grid, grid + s, x) if s else x for s, x in zip(skews, channels)]
    return Recording(source=str(path), fs_hz=fs, voltage_v=channels[0], current_a=channels[1])


def _scaling(x: np.ndarray, limit: int) -> tuple[float, float, np.ndarray]:
    """Multiplier a, offset b and integer codes q (|q| <= limit) with x ≈ a*q + b."""
    lo, hi = float(x.min()), float(x.max())
    b = (hi + lo) / 2.0
    a = (hi - lo) / 2.0 / limit
    if not (a > 0 and math.isfinite(a)):
        a = 1.0  # constant channel: every value is exactly b
    q = np.clip(np.rint((x - b) / a), -limit, limit).astype(np.int64)
    return a, b, q


def write_comtrade(
    rec: Recording,
    cfg_path: str | Path,
    *,
    station: str = "prepaid-meter-sim",
    data_format: str = "BINARY",
    rev_year: int = 1999,
    line_freq_hz: float = 50.0,
    start: datetime | None = None,
) -> None:
    """Write ``rec`` as COMTRADE ``.cfg`` + ``.dat`` (same name, ``.dat`` extension).

    Two analog channels: ``V`` (unit V) and ``I`` (unit A), primary values. Each
    integer format is scaled to its own full range (offset b = mid-range, multiplier
    a = half range / largest code), so the resolution a is 1/32767 of the half range
    for BINARY, 1/99998 for ASCII and 1/2147483647 for BINARY32; FLOAT32 stores the
    values themselves (a = 1, b = 0). BINARY32 and FLOAT32 exist from the 2013
    revision on. ``start`` is the recording's start time (default 2000-01-01 00:00).
    """
    fmt = data_format.strip().upper()
    if fmt not in COMTRADE_FORMATS:
        raise ValueError(f"data_format must be one of {', '.join(COMTRADE_FORMATS)}, got {data_format!r}")
    if rev_year not in (1999, 2013):
        raise ValueError(f"rev_year must be 1999 or 2013, got {rev_year!r}")
    if rev_year not in COMTRADE_FORMATS[fmt]:
        raise ValueError(f"{fmt} data needs rev_year 2013 (IEEE C37.111-2013), got {rev_year}")
    if any(c in station for c in ",\r\n") or not station.isprintable():
        raise ValueError(f"station must be printable text without commas, got {station!r}")
    if not (math.isfinite(line_freq_hz) and line_freq_hz > 0):
        raise ValueError(f"line_freq_hz must be positive, got {line_freq_hz!r}")
    cfg_path = Path(cfg_path)
    if cfg_path.suffix.lower() != ".cfg":
        raise ValueError(f"cfg_path must end in .cfg, got {str(cfg_path)!r}")
    dat_ext = "".join(d.upper() if c.isupper() else d for c, d in zip(cfg_path.suffix[1:], "dat"))
    dat_path = cfg_path.with_suffix("." + dat_ext)
    n = len(rec)
    if n < 1:
        raise ValueError("cannot write an empty recording")
    start = start or datetime(2000, 1, 1)

    # Time stamps (microseconds times timemult); non-critical since samp is given.
    last_us = (n - 1) * 1e6 / rec.fs_hz
    timemult = 1.0 if last_us <= _TIMESTAMP_MAX else float(math.ceil(last_us / _TIMESTAMP_MAX))
    stamps = np.rint(np.arange(n) * (1e6 / rec.fs_hz / timemult)).astype(np.int64)
    numbers = np.arange(1, n + 1, dtype=np.int64)

    chan_lines = []
    codes = []
    for k, (name, unit, x) in enumerate((("V", "V", rec.voltage_v), ("I", "A", rec.current_a)), start=1):
        if fmt == "FLOAT32":
            a, b = 1.0, 0.0
            q = x.astype("<f4")
            lo, hi = repr(float(q.min())), repr(float(q.max()))
        else:
            a, b, q = _scaling(x, _INT_LIMIT[fmt])
            lo, hi = str(int(q.min())), str(int(q.max()))
        codes.append(q)
        chan_lines.append(f"{k},{name},,,{unit},{a!r},{b!r},0,{lo},{hi},1,1,P")

    stamp = f"{start:%d/%m/%Y},{start:%H:%M:%S.%f}"
    lines = [
        f"{station},host_sim,{rev_year}",
        "2,2A,0D",
        *chan_lines,
        f"{line_freq_hz:g}",
        "1",
        f"{rec.fs_hz!r},{n}",
        stamp,
        stamp,
        fmt,
        f"{timemult:g}",
    ]
    if rev_year == 2013:
        lines += ["0,0", "0,0"]  # time_code,local_code (UTC) ; tmq_code,leapsec

    if fmt == "ASCII":
        table = np.column_stack([numbers, stamps, codes[0], codes[1]])
        with open(dat_path, "w", encoding="ascii", newline="") as f:
            np.savetxt(f, table, fmt="%d", delimiter=",", newline="\r\n")
    else:
        dtype = np.dtype([("n", "<u4"), ("t", "<u4"), ("v", _BINARY_ANALOG[fmt]), ("i", _BINARY_ANALOG[fmt])])
        rows = np.empty(n, dtype=dtype)
        rows["n"], rows["t"], rows["v"], rows["i"] = numbers, stamps, codes[0], codes[1]
        dat_path.write_bytes(rows.tobytes())
    with open(cfg_path, "w", encoding="ascii", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n")


# --------------------------------------------------------------------------------------
# HFHAD-C (real appliance recordings)
# --------------------------------------------------------------------------------------


def load_hfhad(path: str | Path, v_rms_target: float = 220.0) -> Recording:
    """Load an HFHAD-C appliance recording (hex int16 pairs, 6400 Hz).

    Current is raw / 41.4738 A; the voltage scale is unknown, so the voltage is
    rescaled to ``v_rms_target`` volts rms (its shape and phase are kept).
    """
    if not (math.isfinite(v_rms_target) and v_rms_target > 0):
        raise ValueError(f"v_rms_target must be positive, got {v_rms_target!r}")
    raw = _read_bytes(Path(path), path)
    if not raw.strip():
        raise RecordingError(path, f"file is empty (expected the marker line {HFHAD_MARKER!r} and hex data)")
    lines = _decode_text(raw).splitlines()
    if lines[0].strip().upper() != HFHAD_MARKER:
        raise RecordingError(path, f"line 1: expected the marker {HFHAD_MARKER!r}, found {lines[0].strip()[:40]!r}")
    chunks = []
    for lineno, line in enumerate(lines[1:], start=2):
        s = line.strip()
        m = re.search(r"[^0-9A-Fa-f]", s)
        if m:
            raise RecordingError(path, f"line {lineno}: {m.group()!r} at column {m.start() + 1} is not a hex digit")
        chunks.append(s)
    hexdata = "".join(chunks)
    if len(hexdata) % 8:
        raise RecordingError(
            path,
            f"{len(hexdata)} hex digits is not a whole number of (current, voltage) pairs "
            f"of 8 digits (the file looks truncated)",
        )
    pairs = np.frombuffer(binascii.unhexlify(hexdata), dtype="<i2").reshape(-1, 2)
    _check_length(path, pairs.shape[0], HFHAD_FS_HZ)
    current = pairs[:, 0] / HFHAD_CURRENT_PER_A
    v = pairs[:, 1].astype(np.float64)
    rms = math.sqrt(float(np.mean(v * v)))
    if rms == 0:
        raise RecordingError(path, f"voltage is zero throughout: cannot rescale it to {v_rms_target:g} V rms")
    return Recording(source=str(path), fs_hz=HFHAD_FS_HZ, voltage_v=v * (v_rms_target / rms), current_a=current)


# --------------------------------------------------------------------------------------
# Synthesis
# --------------------------------------------------------------------------------------


def _check_harmonics(name: str, harmonics: dict[int, tuple[float, float]] | None, freq: float, fs: float) -> list:
    out = []
    for order, spec in sorted((harmonics or {}).items()):
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 2:
            raise ValueError(f"{name}: harmonic order must be an integer >= 2, got {order!r}")
        try:
            fraction, phase = (float(x) for x in spec)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{order}] must be (fraction, phase_deg), got {spec!r}") from None
        if not (math.isfinite(fraction) and fraction >= 0 and math.isfinite(phase)):
            raise ValueError(f"{name}[{order}]: fraction must be >= 0 and phase finite, got {spec!r}")
        if order * freq >= fs / 2:
            raise ValueError(
                f"{name}[{order}]: {order * freq:g} Hz is not below half the sample rate ({fs / 2:g} Hz)"
            )
        out.append((int(order), fraction, math.radians(phase)))
    return out


def _describe(label: str, harmonics: Iterable[tuple[int, float, float]]) -> str:
    parts = [f"h{h} {f * 100:g}%@{math.degrees(p):g}deg" for h, f, p in harmonics]
    return f" {label} " + " ".join(parts) if parts else ""


def synthesize(
    *,
    seconds: float,
    fs_hz: float = 6400.0,
    v_rms: float = 220.0,
    i_rms: float = 10.0,
    pf: float = 1.0,
    inductive: bool = True,
    freq_hz: float = 50.0,
    v_harmonics: dict[int, tuple[float, float]] | None = None,
    i_harmonics: dict[int, tuple[float, float]] | None = None,
    i_dc_a: float = 0.0,
    v_noise_rms: float = 0.0,
    i_noise_rms: float = 0.0,
    seed: int = 0,
) -> Recording:
    """Synthesise a recording of ``round(seconds * fs_hz)`` samples, starting at t = 0.

    * ``v_rms``/``i_rms`` are the rms values of the fundamentals; the voltage
      fundamental is ``√2·v_rms·sin(ωt)``.
    * ``pf`` is the displacement power factor of the fundamental, in [-1, 1]: the
      current is shifted by ``arccos(pf)``, lagging when ``inductive`` and leading
      otherwise; a negative ``pf`` makes the power flow back (export).
    * harmonics: ``{order: (fraction of that signal's fundamental amplitude, phase_deg)}``,
      each adding ``fraction·A1·sin(order·ωt + phase)`` — the phase is measured from
      the same t = 0 as the voltage fundamental, for voltage and current alike.
    * ``i_dc_a`` adds a DC offset to the current; the noise terms add white Gaussian
      noise of the given rms (reproducible for a given ``seed``).
    """
    for name, value in (("seconds", seconds), ("fs_hz", fs_hz), ("freq_hz", freq_hz)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    for name, value in (("v_rms", v_rms), ("i_rms", i_rms), ("v_noise_rms", v_noise_rms), ("i_noise_rms", i_noise_rms)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if not (math.isfinite(pf) and -1.0 <= pf <= 1.0):
        raise ValueError(f"pf must be between -1 and 1, got {pf!r}")
    if not math.isfinite(i_dc_a):
        raise ValueError(f"i_dc_a must be finite, got {i_dc_a!r}")
    if freq_hz >= fs_hz / 2:
        raise ValueError(f"freq_hz {freq_hz:g} Hz must be below half the sample rate ({fs_hz / 2:g} Hz)")
    vh = _check_harmonics("v_harmonics", v_harmonics, freq_hz, fs_hz)
    ih = _check_harmonics("i_harmonics", i_harmonics, freq_hz, fs_hz)
    n = int(round(seconds * fs_hz))
    if n < 2:
        raise ValueError(f"{seconds!r} s at {fs_hz!r} Hz gives {n} samples; at least 2 are needed")

    wt = 2.0 * math.pi * freq_hz * (np.arange(n) / fs_hz)
    phi = math.acos(pf)
    shift = -phi if inductive else phi
    va = math.sqrt(2.0) * v_rms
    ia = math.sqrt(2.0) * i_rms
    v = va * np.sin(wt)
    i = ia * np.sin(wt + shift)
    for h, fraction, phase in vh:
        v += fraction * va * np.sin(h * wt + phase)
    for h, fraction, phase in ih:
        i += fraction * ia * np.sin(h * wt + phase)
    i += i_dc_a
    rng = np.random.default_rng(seed)
    v_noise = rng.standard_normal(n)
    i_noise = rng.standard_normal(n)
    if v_noise_rms:
        v += v_noise_rms * v_noise
    if i_noise_rms:
        i += i_noise_rms * i_noise

    kind = "" if abs(pf) == 1.0 else ("i" if inductive else "c")
    source = (
        f"synthetic: {v_rms:g} V {i_rms:g} A PF {pf:g}{kind} {freq_hz:g} Hz, {n} samples at {fs_hz:g} Hz"
        + _describe("V", vh)
        + _describe("I", ih)
        + (f" DC {i_dc_a:g} A" if i_dc_a else "")
        + (f" noise V {v_noise_rms:g} I {i_noise_rms:g} seed {seed}" if v_noise_rms or i_noise_rms else "")
    )
    return Recording(source=source, fs_hz=fs_hz, voltage_v=v, current_a=i)
