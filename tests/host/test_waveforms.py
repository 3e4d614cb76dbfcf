"""Tests for host_sim.waveforms: recordings (COMTRADE, CSV, HFHAD-C) and synthesis."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import comtrade
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_sim.waveforms import (
    Recording,
    RecordingError,
    load_hfhad,
    load_recording,
    synthesize,
    write_comtrade,
    write_csv,
)

HFHAD_DIR = Path(__file__).resolve().parents[3] / "shared" / "waveforms" / "hfhad-c"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def phasor(x: np.ndarray, fs: float, freq: float) -> complex:
    """Complex amplitude of the sine component at freq (x must hold whole cycles)."""
    t = np.arange(x.size) / fs
    return complex(2.0 / x.size * np.sum(x * np.exp(-2j * np.pi * freq * t)))


def expect_error(path: Path | str, *fragments: str, name: str | None = None) -> str:
    """load_recording(path) must raise a one-line RecordingError naming the file and the problem."""
    with pytest.raises(RecordingError) as info:
        load_recording(path)
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg, msg
    assert (name or Path(path).name) in msg, msg
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"
    return msg


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="ascii")
    return path


def csv_lines(rows: list[tuple[float, float, float]]) -> str:
    return "t_s,voltage_v,current_a\n" + "".join(f"{t!r},{v!r},{i!r}\n" for t, v, i in rows)


def good_rows(n: int = 64, fs: float = 1000.0) -> list[tuple[float, float, float]]:
    return [(k / fs, 300.0 * math.sin(k / 3), 5.0 * math.cos(k / 3)) for k in range(n)]


def custom_comtrade(
    tmp_path: Path,
    channels: list[tuple],
    *,
    n: int = 100,
    fs: float = 1000.0,
    rates: list[tuple[float, int]] | None = None,
    stamps: list[int] | None = None,
    stem: str = "custom",
    rev: str = "1999",
) -> Path:
    """Hand-written ASCII COMTRADE. channels: (name, unit, a, b, codes[, skew, pors, primary, secondary])."""
    lines = [f"test station,dev,{rev}", f"{len(channels)},{len(channels)}A,0D"]
    for k, ch in enumerate(channels, start=1):
        name, unit, a, b, _codes = ch[:5]
        skew, pors, prim, sec = ch[5:] + (0, "P", 1, 1)[len(ch) - 5 :]  # defaults for what is not given
        lines.append(f"{k},{name},,,{unit},{a},{b},{skew},-99999,99998,{prim},{sec},{pors}")
    lines.append("50")
    rates = rates if rates is not None else [(fs, n)]
    lines.append(str(len(rates)) if not (len(rates) == 1 and rates[0][0] == 0) else "0")
    lines += [f"{r},{e}" for r, e in rates]
    lines += ["01/01/2020,00:00:00.000000", "01/01/2020,00:00:00.000000", "ASCII", "1"]
    cfg = tmp_path / f"{stem}.cfg"
    write_text(cfg, "\r\n".join(lines) + "\r\n")
    stamps = stamps if stamps is not None else [round(k * 1e6 / fs) for k in range(n)]
    rows = [f"{k + 1},{stamps[k]}," + ",".join(str(int(ch[4][k])) for ch in channels) for k in range(n)]
    write_text(tmp_path / f"{stem}.dat", "\r\n".join(rows) + "\r\n")
    return cfg


def sine_codes(n: int = 100, amplitude: int = 10000, phase: float = 0.0) -> np.ndarray:
    return np.rint(amplitude * np.sin(2 * np.pi * 50 * np.arange(n) / 1000.0 + phase)).astype(int)


# --------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------


def test_recording_seconds_slice_and_energy_by_hand():
    rec = Recording("hand", 4.0, np.array([1.0, 2.0, -3.0, 4.0]), np.array([3.0, 4.0, 5.0, 0.5]))
    assert rec.seconds == 1.0
    assert len(rec) == 4
    assert rec.true_energy_wh() == pytest.approx((3 + 8 - 15 + 2) / 4 / 3600)
    part = rec.slice(1, 3)
    assert part.fs_hz == 4.0 and part.seconds == 0.5
    assert part.voltage_v.tolist() == [2.0, -3.0] and part.current_a.tolist() == [4.0, 5.0]
    assert part.true_energy_wh() == pytest.approx((8 - 15) / 4 / 3600)
    assert "hand" in part.source


def test_recording_is_immutable_and_validated():
    v = np.array([1.0, 2.0])
    rec = Recording("x", 10.0, v, np.array([0.0, 1.0]))
    v[0] = 99.0  # caller's array changes later: the recording must not
    assert rec.voltage_v[0] == 1.0
    with pytest.raises(ValueError):
        rec.voltage_v[0] = 5.0
    with pytest.raises(AttributeError):
        rec.fs_hz = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="samples"):
        Recording("x", 10.0, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="fs_hz"):
        Recording("x", 0.0, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        Recording("x", 1.0, np.array([0.0, np.nan]), np.zeros(2))


def test_true_energy_of_synthetic_load():
    # 220 V, 10 A, PF 0.5 for 1.5 s (whole cycles): P = 1100 W
    rec = synthesize(seconds=1.5, pf=0.5)
    assert rec.true_energy_wh() == pytest.approx(1100 * 1.5 / 3600, rel=1e-9)
    assert synthesize(seconds=1.0, pf=0.0).true_energy_wh() == pytest.approx(0.0, abs=1e-9)
    assert synthesize(seconds=1.0, pf=-1.0).true_energy_wh() == pytest.approx(-2200 / 3600, rel=1e-9)


# --------------------------------------------------------------------------------------
# synthesize
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pf,inductive", [(1.0, True), (0.5, True), (0.5, False), (0.8, True), (0.0, False), (-0.7, True)])
def test_synthesize_rms_and_displacement_pf(pf, inductive):
    rec = synthesize(seconds=1.0, v_rms=230.0, i_rms=7.5, pf=pf, inductive=inductive)
    assert rec.fs_hz == 6400.0 and len(rec) == 6400 and rec.seconds == 1.0
    assert rms(rec.voltage_v) == pytest.approx(230.0, rel=1e-9)
    assert rms(rec.current_a) == pytest.approx(7.5, rel=1e-9)
    measured_pf = np.mean(rec.voltage_v * rec.current_a) / (230.0 * 7.5)
    assert measured_pf == pytest.approx(pf, abs=1e-9)
    # lagging current (inductive) has a negative phase relative to the voltage
    angle = np.angle(phasor(rec.current_a, 6400, 50) / phasor(rec.voltage_v, 6400, 50))
    expected = -math.acos(pf) if inductive else math.acos(pf)
    assert math.remainder(angle - expected, 2 * math.pi) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("freq,fs", [(50.0, 6400.0), (60.0, 7680.0), (50.0, 4000.0)])
def test_synthesize_frequency(freq, fs):
    rec = synthesize(seconds=2.0, fs_hz=fs, freq_hz=freq)
    spectrum = np.abs(np.fft.rfft(rec.voltage_v))
    freqs = np.fft.rfftfreq(len(rec), 1 / fs)
    assert freqs[np.argmax(spectrum)] == pytest.approx(freq)
    assert len(rec) == round(2.0 * fs)


def test_synthesize_harmonics_content():
    rec = synthesize(
        seconds=1.0,
        v_harmonics={3: (0.05, 0.0), 5: (0.02, 90.0)},
        i_harmonics={3: (0.3, 180.0), 7: (0.1, 45.0)},
    )
    fs = rec.fs_hz
    v1, i1 = phasor(rec.voltage_v, fs, 50), phasor(rec.current_a, fs, 50)
    # fundamentals are exactly the requested rms
    assert abs(v1) / math.sqrt(2) == pytest.approx(220.0, rel=1e-9)
    assert abs(i1) / math.sqrt(2) == pytest.approx(10.0, rel=1e-9)
    # sin(h wt + p) has the phasor angle p - 90 deg
    for x, a1, h, frac, phase in [
        (rec.voltage_v, abs(v1), 3, 0.05, 0.0),
        (rec.voltage_v, abs(v1), 5, 0.02, 90.0),
        (rec.current_a, abs(i1), 3, 0.3, 180.0),
        (rec.current_a, abs(i1), 7, 0.1, 45.0),
    ]:
        ph = phasor(x, fs, 50 * h)
        assert abs(ph) / a1 == pytest.approx(frac, rel=1e-9)
        assert math.remainder(np.angle(ph) - math.radians(phase - 90), 2 * math.pi) == pytest.approx(0, abs=1e-9)
    # nothing at harmonics that were not asked for
    assert abs(phasor(rec.voltage_v, fs, 350)) < 1e-9
    assert abs(phasor(rec.current_a, fs, 250)) < 1e-9
    # total rms includes the harmonics
    assert rms(rec.current_a) == pytest.approx(10.0 * math.sqrt(1 + 0.3**2 + 0.1**2), rel=1e-9)


def test_synthesize_dc_noise_and_seed():
    base = synthesize(seconds=1.0)
    noisy = synthesize(seconds=1.0, i_dc_a=0.25, v_noise_rms=2.0, i_noise_rms=0.1, seed=7)
    assert np.mean(noisy.current_a) == pytest.approx(0.25, abs=0.01)
    assert rms(noisy.voltage_v - base.voltage_v) == pytest.approx(2.0, rel=0.05)
    assert rms(noisy.current_a - base.current_a - 0.25) == pytest.approx(0.1, rel=0.05)
    again = synthesize(seconds=1.0, i_dc_a=0.25, v_noise_rms=2.0, i_noise_rms=0.1, seed=7)
    other = synthesize(seconds=1.0, i_dc_a=0.25, v_noise_rms=2.0, i_noise_rms=0.1, seed=8)
    assert np.array_equal(noisy.current_a, again.current_a)
    assert not np.array_equal(noisy.current_a, other.current_a)
    # without noise the output is the clean waveform
    assert np.array_equal(synthesize(seconds=1.0, seed=3).voltage_v, base.voltage_v)
    assert "synthetic" in noisy.source and "PF" in noisy.source


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(seconds=0),
        dict(seconds=1, fs_hz=-1),
        dict(seconds=1, pf=1.5),
        dict(seconds=1, pf=float("nan")),
        dict(seconds=1, v_rms=-1),
        dict(seconds=1, freq_hz=4000),
        dict(seconds=1, v_harmonics={1: (0.1, 0)}),
        dict(seconds=1, i_harmonics={100: (0.1, 0)}),  # 5 kHz > fs/2
        dict(seconds=1, i_harmonics={3: (-0.1, 0)}),
        dict(seconds=1e-5),
    ],
)
def test_synthesize_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        synthesize(**kwargs)


# --------------------------------------------------------------------------------------
# COMTRADE round trips
# --------------------------------------------------------------------------------------

FORMATS = [
    ("BINARY", 1999, 1 / 32767),
    ("ASCII", 1999, 1 / 99998),
    ("BINARY", 2013, 1 / 32767),
    ("ASCII", 2013, 1 / 99998),
    ("BINARY32", 2013, 1 / 2147483647),
]


@pytest.mark.parametrize("fmt,rev,resolution", FORMATS)
def test_comtrade_round_trip(tmp_path, fmt, rev, resolution):
    rec = synthesize(seconds=0.5, pf=0.7, i_harmonics={3: (0.2, 30.0)}, i_dc_a=0.3, v_noise_rms=1.0, seed=1)
    cfg = tmp_path / "rec.cfg"
    write_comtrade(rec, cfg, data_format=fmt, rev_year=rev)
    assert (tmp_path / "rec.dat").is_file()

    # the comtrade package itself reads what was written
    ct = comtrade.load(str(cfg), use_numpy_arrays=True, use_double_precision=True)
    assert ct.cfg.rev_year == str(rev) and ct.ft == fmt
    assert ct.analog_channel_ids == ["V", "I"]
    assert [c.uu for c in ct.cfg.analog_channels] == ["V", "A"]
    assert ct.total_samples == len(rec) and ct.cfg.sample_rates == [[rec.fs_hz, len(rec)]]
    a_v, a_i = (c.a for c in ct.cfg.analog_channels)

    loaded = load_recording(cfg)
    assert loaded.source == str(cfg)
    assert loaded.fs_hz == rec.fs_hz and len(loaded) == len(rec)
    # within half a scaling step (the channel's resolution) ...
    assert np.max(np.abs(loaded.voltage_v - rec.voltage_v)) <= a_v / 2 * (1 + 1e-9)
    assert np.max(np.abs(loaded.current_a - rec.current_a)) <= a_i / 2 * (1 + 1e-9)
    # ... and that step is the format's full resolution of the half range
    for a, x in ((a_v, rec.voltage_v), (a_i, rec.current_a)):
        assert a == pytest.approx((x.max() - x.min()) / 2 * resolution, rel=1e-9)
    assert loaded.true_energy_wh() == pytest.approx(rec.true_energy_wh(), rel=1e-4)
    np.testing.assert_allclose(ct.analog[0], loaded.voltage_v)


def test_comtrade_float32_round_trip(tmp_path):
    rec = synthesize(seconds=0.1, pf=0.9)
    write_comtrade(rec, tmp_path / "f.cfg", data_format="FLOAT32", rev_year=2013)
    loaded = load_recording(tmp_path / "f.cfg")
    np.testing.assert_allclose(loaded.voltage_v, rec.voltage_v, rtol=2**-23, atol=1e-30)
    np.testing.assert_allclose(loaded.current_a, rec.current_a, rtol=2**-23, atol=1e-30)


def test_comtrade_constant_and_zero_channels_are_exact(tmp_path):
    n = 200
    rec = Recording("idle", 2000.0, np.full(n, 230.0), np.zeros(n))
    for fmt in ("BINARY", "ASCII"):
        write_comtrade(rec, tmp_path / f"{fmt}.cfg", data_format=fmt)
        loaded = load_recording(tmp_path / f"{fmt}.cfg")
        assert np.array_equal(loaded.voltage_v, rec.voltage_v)
        assert np.array_equal(loaded.current_a, rec.current_a)


def test_comtrade_upper_case_extension(tmp_path):
    rec = synthesize(seconds=0.04)
    write_comtrade(rec, tmp_path / "REC.CFG")
    assert (tmp_path / "REC.DAT").is_file()
    assert len(load_recording(tmp_path / "REC.CFG")) == len(rec)


def test_write_comtrade_rejects_bad_arguments(tmp_path):
    rec = synthesize(seconds=0.04)
    with pytest.raises(ValueError, match="2013"):
        write_comtrade(rec, tmp_path / "a.cfg", data_format="BINARY32", rev_year=1999)
    with pytest.raises(ValueError, match="data_format"):
        write_comtrade(rec, tmp_path / "a.cfg", data_format="HEX")
    with pytest.raises(ValueError, match="rev_year"):
        write_comtrade(rec, tmp_path / "a.cfg", rev_year=1991)
    with pytest.raises(ValueError, match="station"):
        write_comtrade(rec, tmp_path / "a.cfg", station="a,b")
    with pytest.raises(ValueError, match=".cfg"):
        write_comtrade(rec, tmp_path / "a.dat")


# --------------------------------------------------------------------------------------
# COMTRADE channels: selection, units, scaling
# --------------------------------------------------------------------------------------


def test_comtrade_kv_ka_converted(tmp_path):
    v = sine_codes()
    i = sine_codes(amplitude=20000, phase=-0.5)
    cfg = custom_comtrade(tmp_path, [("Ua", "kV", 0.0311, 0, v), ("Ia", "kA", 0.0005, 0, i)])
    rec = load_recording(cfg)
    np.testing.assert_allclose(rec.voltage_v, v * 0.0311 * 1000)
    np.testing.assert_allclose(rec.current_a, i * 0.0005 * 1000)
    assert rec.fs_hz == 1000.0 and len(rec) == 100


def test_comtrade_channel_choice_first_of_each_by_unit_then_name(tmp_path):
    codes = [sine_codes(amplitude=k * 1000) for k in range(1, 6)]
    cfg = custom_comtrade(
        tmp_path,
        [
            ("Freq", "Hz", 1, 0, codes[0]),  # neither
            ("Ib", "A", 1, 0, codes[1]),  # first current (unit)
            ("Va", "V", 1, 0, codes[2]),  # first voltage (unit)
            ("Vb", "V", 1, 0, codes[3]),  # second voltage: ignored
            ("Ic", "A", 1, 0, codes[4]),  # second current: ignored
        ],
    )
    rec = load_recording(cfg)
    assert np.array_equal(rec.voltage_v, codes[2]) and np.array_equal(rec.current_a, codes[1])


def test_comtrade_channel_by_name_when_unit_unknown(tmp_path):
    v, i = sine_codes(amplitude=3000), sine_codes(amplitude=400)
    cfg = custom_comtrade(tmp_path, [("I_L1", "", 0.01, 0, i), ("U_L1", "pu", 0.1, 0, v)])
    rec = load_recording(cfg)
    np.testing.assert_allclose(rec.voltage_v, v * 0.1)
    np.testing.assert_allclose(rec.current_a, i * 0.01)


def test_comtrade_secondary_values_scaled_to_primary_and_offset(tmp_path):
    v, i = sine_codes(), sine_codes(amplitude=500)
    cfg = custom_comtrade(
        tmp_path,
        [("V", "V", 0.01, 1.5, v, 0, "S", 230, 110), ("I", "A", 0.001, 0, i, 0, "S", 100, 5)],
    )
    rec = load_recording(cfg)
    np.testing.assert_allclose(rec.voltage_v, (v * 0.01 + 1.5) * 230 / 110)
    np.testing.assert_allclose(rec.current_a, i * 0.001 * 100 / 5)


def test_comtrade_skew_between_channels_is_corrected(tmp_path):
    # current channel sampled 250 us after the voltage: as recorded, it looks 4.5 deg late
    fs, n, skew_us = 1000.0, 200, 250
    t = np.arange(n) / fs
    v = np.rint(10000 * np.sin(2 * np.pi * 50 * t)).astype(int)
    i = np.rint(10000 * np.sin(2 * np.pi * 50 * (t + skew_us * 1e-6))).astype(int)
    cfg = custom_comtrade(tmp_path, [("V", "V", 1, 0, v), ("I", "A", 1, 0, i, skew_us)], n=n)
    rec = load_recording(cfg)
    inner = slice(5, n - 5)  # interpolation holds the edge sample
    # after alignment, current equals the voltage (in phase), up to interpolation error
    err = np.max(np.abs(rec.current_a[inner] - 10000 * np.sin(2 * np.pi * 50 * t[inner])))
    assert err < 0.02 * 10000
    raw_err = np.max(np.abs(i[inner] - 10000 * np.sin(2 * np.pi * 50 * t[inner])))
    assert err < raw_err / 5


def test_comtrade_critical_timestamps(tmp_path):
    # nrates = 0: the sample times are the DAT time stamps (here 1 ms apart = 1000 Hz)
    v, i = sine_codes(), sine_codes(amplitude=50)
    cfg = custom_comtrade(tmp_path, [("V", "V", 1, 0, v), ("I", "A", 1, 0, i)], rates=[(0, 100)])
    rec = load_recording(cfg)
    assert rec.fs_hz == pytest.approx(1000.0)
    assert np.array_equal(rec.voltage_v, v)


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def test_csv_round_trip_exact(tmp_path):
    rec = synthesize(seconds=0.2, pf=0.3, inductive=False, i_noise_rms=0.01)
    write_csv(rec, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == "t_s,voltage_v,current_a"
    loaded = load_recording(tmp_path / "r.csv")
    assert loaded.fs_hz == pytest.approx(rec.fs_hz, rel=1e-12)
    assert np.array_equal(loaded.voltage_v, rec.voltage_v)
    assert np.array_equal(loaded.current_a, rec.current_a)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fs=st.floats(min_value=100.0, max_value=100_000.0),
    cycles=st.floats(min_value=1.0, max_value=5.0),
    v_rms=st.floats(min_value=0.0, max_value=1000.0),
    i_rms=st.floats(min_value=0.0, max_value=200.0),
    pf=st.floats(min_value=-1.0, max_value=1.0),
)
def test_csv_round_trip_property(fs, cycles, v_rms, i_rms, pf):
    freq = min(50.0, fs / 4)
    seconds = max(cycles / freq, 0.02) + 2 / fs
    rec = synthesize(seconds=seconds, fs_hz=fs, v_rms=v_rms, i_rms=i_rms, pf=pf, freq_hz=freq)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.csv"
        write_csv(rec, path)
        loaded = load_recording(path)
    assert loaded.fs_hz == pytest.approx(fs, rel=1e-9)
    assert np.array_equal(loaded.voltage_v, rec.voltage_v)
    assert np.array_equal(loaded.current_a, rec.current_a)


@settings(max_examples=25, deadline=None)
@given(
    fs=st.sampled_from([1000.0, 4000.0, 6400.0, 8000.0, 25600.0]),
    v_rms=st.floats(min_value=1.0, max_value=500.0),
    i_rms=st.floats(min_value=0.001, max_value=100.0),
    dc=st.floats(min_value=-5.0, max_value=5.0),
    fmt=st.sampled_from([("BINARY", 1999), ("ASCII", 2013), ("BINARY32", 2013)]),
)
def test_comtrade_round_trip_property(fs, v_rms, i_rms, dc, fmt):
    rec = synthesize(seconds=0.04, fs_hz=fs, v_rms=v_rms, i_rms=i_rms, i_dc_a=dc, pf=0.6)
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "p.cfg"
        write_comtrade(rec, cfg, data_format=fmt[0], rev_year=fmt[1])
        loaded = load_recording(cfg)
    limit = {"BINARY": 32767, "ASCII": 99998, "BINARY32": 2147483647}[fmt[0]]
    for got, want in ((loaded.voltage_v, rec.voltage_v), (loaded.current_a, rec.current_a)):
        step = (want.max() - want.min()) / 2 / limit
        assert np.max(np.abs(got - want)) <= step / 2 * (1 + 1e-9) + 1e-12 * np.max(np.abs(want))
    assert loaded.fs_hz == fs


def test_csv_any_start_time_and_crlf(tmp_path):
    rows = [(10.0 + k / 2000, float(k), -float(k)) for k in range(100)]
    path = tmp_path / "late.csv"
    path.write_bytes(csv_lines(rows).replace("\n", "\r\n").encode())
    rec = load_recording(path)
    assert rec.fs_hz == pytest.approx(2000.0) and len(rec) == 100 and rec.current_a[3] == -3.0


# --------------------------------------------------------------------------------------
# bad input: CSV and dispatch
# --------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.csv", "file not found")
    expect_error(tmp_path / "nope.cfg", "file not found")


def test_unsupported_extension(tmp_path):
    expect_error(write_text(tmp_path / "rec.txt", "x"), "unsupported", ".cfg", ".csv", "t_s,voltage_v,current_a")
    expect_error(write_text(tmp_path / "rec.dat", "x"), "give the .cfg")


def test_csv_empty(tmp_path):
    expect_error(write_text(tmp_path / "e.csv", ""), "empty")
    expect_error(write_text(tmp_path / "w.csv", "\n  \n"), "empty")


def test_csv_wrong_header(tmp_path):
    path = write_text(tmp_path / "h.csv", "time,v,i\n0,1,2\n")
    expect_error(path, "line 1", "t_s,voltage_v,current_a", "'time,v,i'")


def test_csv_missing_header(tmp_path):
    text = "".join(f"{t},{v},{i}\n" for t, v, i in good_rows())
    expect_error(write_text(tmp_path / "m.csv", text), "line 1", "t_s,voltage_v,current_a", "header line is missing")


def test_csv_wrong_field_count(tmp_path):
    text = csv_lines(good_rows()).splitlines()
    text[6] = text[6] + ",7"
    expect_error(write_text(tmp_path / "f.csv", "\n".join(text)), "line 7", "expected 3 fields", "found 4")
    text = csv_lines(good_rows()).splitlines()
    text[4] = "0.1,2"
    expect_error(write_text(tmp_path / "g.csv", "\n".join(text)), "line 5", "found 2")


def test_csv_not_a_number(tmp_path):
    text = csv_lines(good_rows()).splitlines()
    text[9] = text[9].split(",")[0] + ",12V,1.0"
    expect_error(write_text(tmp_path / "n.csv", "\n".join(text)), "line 10", "voltage_v", "'12V'", "not a number")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_csv_non_finite(tmp_path, bad):
    text = csv_lines(good_rows()).splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + f",{bad}"
    expect_error(write_text(tmp_path / "nf.csv", "\n".join(text)), "line 4", "current_a", bad, "finite")


def test_csv_time_going_back(tmp_path):
    rows = good_rows(fs=10000.0)
    rows[11], rows[12] = rows[12], rows[11]  # line 13 holds t = 0.0011 after t = 0.0012
    msg = expect_error(write_text(tmp_path / "rec.csv", csv_lines(rows)), "line 14", "not after", "time must increase")
    assert msg.startswith(str(tmp_path / "rec.csv") + ": line 14: time 0.0011 s is not after 0.0012 s")


def test_csv_repeated_time(tmp_path):
    rows = good_rows()
    rows[20] = (rows[19][0],) + rows[20][1:]
    expect_error(write_text(tmp_path / "r.csv", csv_lines(rows)), "line 22", "repeats", "time must increase")


def test_csv_non_constant_rate(tmp_path):
    rows = good_rows(n=100)
    rows = rows[:50] + [(t + 0.0002, v, i) for t, v, i in rows[50:]]  # one step 20 % long
    expect_error(write_text(tmp_path / "j.csv", csv_lines(rows)), "line 52", "median step", "constant")


def test_csv_rate_jitter_within_one_percent_is_accepted(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(k / 1000 + rng.uniform(-4e-6, 4e-6), 1.0, 1.0) for k in range(100)]
    assert load_recording(write_text(tmp_path / "ok.csv", csv_lines(rows))).fs_hz == pytest.approx(1000, rel=1e-3)


def test_csv_too_few_samples(tmp_path):
    expect_error(write_text(tmp_path / "z.csv", "t_s,voltage_v,current_a\n"), "fewer than 2 samples", "found 0")
    expect_error(write_text(tmp_path / "o.csv", csv_lines(good_rows(n=1))), "fewer than 2 samples", "found 1")


def test_csv_shorter_than_one_cycle(tmp_path):
    # 19 samples at 1 kHz = 0.019 s
    expect_error(write_text(tmp_path / "s.csv", csv_lines(good_rows(n=19))), "shorter than one mains cycle", "0.02 s")
    # 20 samples = exactly one cycle: accepted
    assert len(load_recording(write_text(tmp_path / "ok.csv", csv_lines(good_rows(n=20))))) == 20


# --------------------------------------------------------------------------------------
# bad input: COMTRADE
# --------------------------------------------------------------------------------------


@pytest.fixture
def good_cfg(tmp_path) -> Path:
    cfg = tmp_path / "rec.cfg"
    write_comtrade(synthesize(seconds=0.1, fs_hz=1000.0), cfg, data_format="BINARY")
    return cfg


@pytest.fixture
def good_ascii_cfg(tmp_path) -> Path:
    cfg = tmp_path / "asc.cfg"
    write_comtrade(synthesize(seconds=0.1, fs_hz=1000.0), cfg, data_format="ASCII")
    return cfg


def test_comtrade_empty_cfg(tmp_path):
    expect_error(write_text(tmp_path / "e.cfg", ""), "empty")


def test_comtrade_garbled_cfg(tmp_path, good_cfg):
    (tmp_path / "junk.cfg").write_bytes(bytes(range(256)) * 4)
    expect_error(tmp_path / "junk.cfg", "CFG line")
    lines = good_cfg.read_text().splitlines()
    lines[1] = "two,2A,0D"
    expect_error(write_text(good_cfg, "\n".join(lines)), "CFG line 2", "TT,##A,##D", "'two,2A,0D'")
    lines[1] = "3,2A,0D"
    expect_error(write_text(good_cfg, "\n".join(lines)), "CFG line 2", "3", "2 analog")
    lines[1] = "2,2A,0D"
    lines[3] = "2,I,,,A,zero,0,0,-32767,32767,1,1,P"
    expect_error(write_text(good_cfg, "\n".join(lines)), "CFG line 4", "zero")
    lines[3] = "2,I,,,A,0.001,0,0,-32767,32767,1,1,P"
    expect_error(write_text(good_cfg, "\n".join(lines[:7])), "end of the CFG")


def test_comtrade_unknown_data_format(good_cfg):
    text = good_cfg.read_text().replace("BINARY", "HEXDUMP")
    expect_error(write_text(good_cfg, text), "HEXDUMP", "ASCII, BINARY")


def test_comtrade_dat_missing(good_cfg):
    good_cfg.with_suffix(".dat").unlink()
    expect_error(good_cfg, "rec.dat", "not found")


@pytest.mark.parametrize("fixture", ["good_cfg", "good_ascii_cfg"])
def test_comtrade_dat_empty(request, fixture):
    cfg = request.getfixturevalue(fixture)
    cfg.with_suffix(".dat").write_bytes(b"")
    expect_error(cfg, "empty", "100 samples", name=cfg.with_suffix(".dat").name)


def test_comtrade_binary_dat_truncated(good_cfg):
    dat = good_cfg.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:-7])
    expect_error(good_cfg, "truncated", "1193 bytes", "100 samples of 12 bytes", name="rec.dat")


def test_comtrade_ascii_dat_truncated(good_ascii_cfg):
    dat = good_ascii_cfg.with_suffix(".dat")
    dat.write_text("\n".join(dat.read_text().splitlines()[:60]))
    expect_error(good_ascii_cfg, "truncated", "60 data lines", "100 samples", name="asc.dat")


def test_comtrade_ascii_dat_bad_row(good_ascii_cfg):
    dat = good_ascii_cfg.with_suffix(".dat")
    lines = dat.read_text().splitlines()
    lines[41] = "42,41000,12"
    write_text(dat, "\n".join(lines))
    expect_error(good_ascii_cfg, "line 42", "expected 4 fields", "found 3", name="asc.dat")
    lines[41] = "42,41000,12,1x3"
    write_text(dat, "\n".join(lines))
    expect_error(good_ascii_cfg, "line 42", "'1x3'", "not a number", name="asc.dat")


def test_comtrade_missing_data_code(good_ascii_cfg):
    dat = good_ascii_cfg.with_suffix(".dat")
    lines = dat.read_text().splitlines()
    lines[9] = "10,9000,99999,5"  # 99999 = missing value in ASCII COMTRADE
    write_text(dat, "\n".join(lines))
    expect_error(good_ascii_cfg, "row 10", "'V'", "no value", name="asc.dat")


def test_comtrade_no_voltage_channel(tmp_path):
    cfg = custom_comtrade(tmp_path, [("Ia", "A", 1, 0, sine_codes()), ("P", "W", 1, 0, sine_codes())])
    expect_error(cfg, "no voltage channel", "'Ia' [A]", "'P' [W]")


def test_comtrade_no_current_channel(tmp_path):
    cfg = custom_comtrade(tmp_path, [("Ua", "kV", 1, 0, sine_codes()), ("Freq", "Hz", 1, 0, sine_codes())])
    expect_error(cfg, "no current channel", "'Freq' [Hz]")


def test_comtrade_non_constant_sample_rates(tmp_path):
    chans = [("V", "V", 1, 0, sine_codes()), ("I", "A", 1, 0, sine_codes())]
    cfg = custom_comtrade(tmp_path, chans, rates=[(1000.0, 50), (2000.0, 100)])
    expect_error(cfg, "non-constant sample rate", "1000 Hz", "2000 Hz")


def test_comtrade_critical_timestamps_not_constant(tmp_path):
    chans = [("V", "V", 1, 0, sine_codes()), ("I", "A", 1, 0, sine_codes())]
    stamps = [k * 1000 for k in range(100)]
    stamps[70:] = [s + 300 for s in stamps[70:]]
    cfg = custom_comtrade(tmp_path, chans, rates=[(0, 100)], stamps=stamps)
    expect_error(cfg, "row 71", "median step", "constant", name="custom.dat")
    stamps[70] = stamps[69]
    cfg = custom_comtrade(tmp_path, chans, rates=[(0, 100)], stamps=stamps)
    expect_error(cfg, "row 71", "time must increase", name="custom.dat")


def test_comtrade_sample_numbers_must_count_up(good_cfg):
    dat = good_cfg.with_suffix(".dat")
    blob = bytearray(dat.read_bytes())
    blob[30 * 12 : 30 * 12 + 4] = (77).to_bytes(4, "little")  # row 31 claims to be sample 77
    dat.write_bytes(bytes(blob))
    expect_error(good_cfg, "row 31", "sample number 77 does not follow 30", name="rec.dat")


def test_comtrade_too_short(tmp_path):
    chans = [("V", "V", 1, 0, sine_codes(n=10)), ("I", "A", 1, 0, sine_codes(n=10))]
    expect_error(custom_comtrade(tmp_path, chans, n=10), "shorter than one mains cycle")
    chans = [("V", "V", 1, 0, sine_codes(n=1)), ("I", "A", 1, 0, sine_codes(n=1))]
    expect_error(custom_comtrade(tmp_path, chans, n=1), "fewer than 2 samples")


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_comtrade_corrupted_files_never_escape_as_other_exceptions(data):
    """Random damage to a valid .cfg or .dat gives a Recording or a one-line RecordingError."""
    rec = synthesize(seconds=0.03, fs_hz=1000.0)
    fmt = data.draw(st.sampled_from(["ASCII", "BINARY"]))
    target = data.draw(st.sampled_from(["cfg", "dat"]))
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "fz.cfg"
        write_comtrade(rec, cfg, data_format=fmt)
        victim = cfg.with_suffix("." + target)
        blob = bytearray(victim.read_bytes())
        for _ in range(data.draw(st.integers(1, 4))):
            pos = data.draw(st.integers(0, len(blob) - 1))
            action = data.draw(st.sampled_from(["replace", "delete", "insert", "cut"]))
            byte = data.draw(st.integers(0, 255))
            if action == "replace":
                blob[pos] = byte
            elif action == "delete":
                del blob[pos]
            elif action == "insert":
                blob.insert(pos, byte)
            else:
                del blob[pos:]
            if not blob:
                break
        victim.write_bytes(bytes(blob))
        try:
            load_recording(cfg)
        except RecordingError as err:
            assert "\n" not in str(err) and ("fz.cfg" in str(err) or "fz.dat" in str(err))


# --------------------------------------------------------------------------------------
# HFHAD-C
# --------------------------------------------------------------------------------------


def test_hfhad_format_errors(tmp_path):
    def hfhad_error(name: str, text: str, *fragments: str) -> None:
        path = write_text(tmp_path / name, text)
        with pytest.raises(RecordingError) as info:
            load_hfhad(path)
        msg = str(info.value)
        assert name in msg and "\n" not in msg
        for fragment in fragments:
            assert fragment in msg, msg

    body = "0A00F0FF" * 200
    hfhad_error("missing.txt", "", "empty")
    hfhad_error("marker.txt", "ABCDEF\n" + body, "line 1", "FFFFFFFF")
    hfhad_error("hex.txt", "FFFFFFFF\n" + "0A00F0FF" * 10 + "\n0A00ZZFF\n", "line 3", "'Z'", "hex")
    hfhad_error("odd.txt", "FFFFFFFF\n" + "0A00F0FF" * 200 + "0A00\n", "truncated")
    hfhad_error("short.txt", "FFFFFFFF\n" + "0A00F0FF" * 100 + "\n", "shorter than one mains cycle")
    hfhad_error("zero.txt", "FFFFFFFF\n" + "0A000000" * 200 + "\n", "voltage is zero")
    with pytest.raises(RecordingError, match="file not found"):
        load_hfhad(tmp_path / "absent.txt")


def test_hfhad_scaling_on_synthetic_file(tmp_path):
    # current raw 4147 -> 99.99 A; voltage rescaled to the target rms
    pairs = np.array([[4147 if k % 2 else -4147, 1000 if k % 2 else -1000] for k in range(256)], dtype="<i2")
    path = write_text(tmp_path / "syn.txt", "FFFFFFFF\n" + pairs.tobytes().hex().upper() + "\n")
    rec = load_hfhad(path, v_rms_target=230.0)
    assert rec.fs_hz == 6400.0 and len(rec) == 256
    assert rec.current_a[1] == pytest.approx(4147 / 41.4738)
    assert rms(rec.voltage_v) == pytest.approx(230.0)
    assert rec.voltage_v[0] < 0 < rec.voltage_v[1]


@pytest.fixture(scope="module")
def hfhad_dir() -> Path:
    if not HFHAD_DIR.is_dir():
        pytest.skip(f"shared HFHAD-C recordings not available at {HFHAD_DIR} (team machines only)")
    return HFHAD_DIR


def test_hfhad_kettle(hfhad_dir):
    rec = load_hfhad(hfhad_dir / "kettle.txt")
    assert len(rec) == 19200 and rec.fs_hz == 6400.0 and rec.seconds == 3.0
    assert rms(rec.voltage_v) == pytest.approx(220.0, rel=1e-9)
    p = float(np.mean(rec.voltage_v * rec.current_a))
    pf = p / (rms(rec.voltage_v) * rms(rec.current_a))
    assert pf == pytest.approx(1.0, abs=0.01)
    assert 500 < p < 3000  # a household kettle: somewhere between 0.5 and 3 kW
    # 128 samples per mains cycle: the fundamental is at 50 Hz
    freqs = np.fft.rfftfreq(len(rec), 1 / rec.fs_hz)
    assert freqs[np.argmax(np.abs(np.fft.rfft(rec.voltage_v)))] == pytest.approx(50.0, abs=0.5)


def test_hfhad_all_appliances_load(hfhad_dir):
    files = sorted(hfhad_dir.glob("*.txt"))
    assert len(files) == 12
    for path in files:
        rec = load_hfhad(path)
        assert abs(len(rec) - 19200) <= 1, path.name
        assert rms(rec.voltage_v) == pytest.approx(220.0, rel=1e-9)
        assert rec.true_energy_wh() > 0, path.name  # appliances import energy
