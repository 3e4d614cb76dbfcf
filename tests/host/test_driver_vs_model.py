"""The firmware driver against the independent ADE7753 model, at the byte level."""
import math

import ade7753
import numpy as np
import pytest
from meter import Meter
from metrology import Metrology

from host_sim.ade7753_model import REGISTERS, ADE7753Model
from host_sim.frontend import BOARDS_DIR, load_board
from host_sim.replay import load_calibration

CLKIN = 3_579_545


def new_driver():
    model = ADE7753Model(clkin_hz=CLKIN)
    return model, ade7753.ADE7753(model.spi, model.cs, CLKIN)


@pytest.mark.parametrize("name", sorted(n for n in REGISTERS if n not in ("TMODE", "CHKSUM")))
def test_register_width_and_sign_match_model(name):
    addr, bits, kind, default = REGISTERS[name]
    model, drv = new_driver()
    assert ade7753.width_bits(addr) == bits
    assert ade7753.is_signed(addr) == (kind == "S")
    if name in ("STATUS", "RSTSTATUS"):
        return  # flags: exercised below through real events
    for raw in (1 << (bits - 1), (1 << (bits - 1)) - 1, (1 << bits) - 1, 0x5A5A5A & ((1 << bits) - 1)):
        model.poke(addr, raw)
        want = raw - (1 << bits) if kind == "S" and raw >> (bits - 1) else raw
        assert drv.read(addr) == want, (name, hex(raw))
    if ade7753.is_writable(addr):
        values = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind == "S" else (0, (1 << bits) - 1)
        if name == "MODE":  # TEMPSEL and SWRST clear themselves
            values = (0, 0xFFFF & ~(ade7753.MODE_TEMPSEL | ade7753.MODE_SWRST))
        for value in values:
            drv.write(addr, value)
            assert model.peek(addr) == value & ((1 << bits) - 1)


def test_defaults_after_reset_as_datasheet():
    model, drv = new_driver()
    drv.software_reset()
    assert drv.identify() == model.peek("DIEREV")
    for name, (addr, bits, kind, default) in REGISTERS.items():
        if name in ("TMODE", "CHKSUM", "STATUS", "RSTSTATUS", "DIEREV", "TEMP"):
            continue
        assert drv.read_raw(addr) == default, name


def test_checksum_failures_retried_then_reported():
    model, drv = new_driver()
    model.poke("VRMS", 0x0ABCDE)
    model.inject_bit_errors(1, seed=3)
    assert drv.read(ade7753.VRMS) == 0x0ABCDE
    assert drv.checksum_errors >= 1
    model.inject_bit_errors(50, seed=4)
    with pytest.raises(ade7753.ADE7753Error, match="CHKSUM"):
        drv.read(ade7753.VRMS)


def test_absent_chip_and_wrong_spi_mode_are_refused():
    model, drv = new_driver()
    model.absent = True
    with pytest.raises(ade7753.ADE7753Error):
        drv.software_reset()
        drv.identify()
    model = ADE7753Model(clkin_hz=CLKIN)
    model.spi.init(baudrate=1_000_000, polarity=0, phase=0)  # mode 0: wrong edge
    drv = ade7753.ADE7753(model.spi, model.cs, CLKIN)
    with pytest.raises(ade7753.ADE7753Error):
        drv.software_reset()
        drv.identify()


def _sine(model, seconds, v_pk=0.3, i_pk=0.1, phi=0.0, f=50.0, fs=8000.0):
    n = int(seconds * fs)
    t = np.arange(n) / fs
    model.feed(i_pk * np.sin(2 * np.pi * f * t - phi), v_pk * np.sin(2 * np.pi * f * t), fs)


def test_period_of_datasheet_example_frequency():
    model, drv = new_driver()
    drv.software_reset()
    _sine(model, 0.5, f=49.943)
    period = drv.read(ade7753.PERIOD)
    assert abs(period - 8959) <= 1
    cal = load_calibration(BOARDS_DIR / "ideal.cal.json")
    m = Metrology(cal, 10_000, 220_000)
    m.period_raw = 8959
    assert m.frequency_hz() == pytest.approx(49.943, abs=0.0005)


def test_chip_reset_mid_run_is_recovered_and_reported():
    board = load_board(BOARDS_DIR / "ideal.json")
    cal = load_calibration(BOARDS_DIR / "ideal.cal.json")
    model = ADE7753Model(clkin_hz=board.clkin_hz)
    meter = Meter(model.spi, model.cs, cal, CLKIN)
    meter.start(0)
    now = 0
    m = meter.metrology
    at_reset = None
    for k in range(20):
        _sine(model, 0.5)
        now += 500
        if k == 10:
            model.reset()  # brown-out of the chip alone
            at_reset = m.energy_import.micro_wh()
        meter.tick(now)
    assert meter.chip_resets == 1
    assert [e[2] for e in meter.events.entries()] == ["cold_chip", "chip_reset"]
    assert model.peek("CFDEN") == cal.cfden and model.peek("WGAIN") & 0xFFF == cal.wgain & 0xFFF
    # metering resumed: the 9 ticks after the recovery tick registered their
    # energy (0.3 V x 0.1 V pk in phase -> ~0.06 of full scale, ~1330 LSB/s)
    gained_uwh = m.energy_import.micro_wh() - at_reset
    per_tick_uwh = at_reset / 10
    assert gained_uwh == pytest.approx(9 * per_tick_uwh, rel=0.02)
    assert meter.missed_intervals == 1
