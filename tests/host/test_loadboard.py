"""The load-driven long-run board agrees with the sample-level board.

Both run the real firmware Meter on the default board with its shipped
calibration; the sample-level board is fed 8 kHz sinusoids, the load board
(V, P, PF) per step. Tolerance 0.05 % of the energy: the sample path has ADC
quantisation, pin noise and the front end's linear-interpolation phase delay
(~1e-4 amplitude droop) that the closed form leaves out, and each reading is
quantised to one AENERGY LSB (0.39 mWh, 3e-5 of the smallest total here).
That is 20x tighter than the class 1 limit, so it cannot hide a metering error.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from host_sim.loadboard import LoadBoard
from host_sim.replay import resolve_board
from host_sim.simboard import SimBoard
from meter import Meter

FS = 8000.0
TOL = 5e-4


def _meter(sim, board, cal) -> Meter:
    m = Meter(sim.model.spi, sim.model.cs, cal, int(board.clkin_hz),
              ib_ma=int(round(board.ib_a * 1000)), un_mv=int(round(board.un_v * 1000)))
    assert m.start(sim.ticks_ms())
    return m


def _sampled(board, cal, segments, tick_s):
    """segments: [(seconds, V, P, pf)]; returns Wh the firmware registered after the first 2 ticks."""
    sim = SimBoard(board)
    m = _meter(sim, board, cal)
    n, ticks, e0 = 0, 0, None
    per = int(FS * tick_s)
    for secs, v, p, pf in segments:
        i = abs(p) / (v * pf)
        phi = math.acos(pf) + (math.pi if p < 0 else 0.0)
        for _ in range(int(round(secs / tick_s))):
            t = np.arange(n, n + per) / FS
            w = 2 * math.pi * 50.0 * t
            sim.feed(math.sqrt(2) * v * np.sin(w), math.sqrt(2) * i * np.sin(w - phi), FS)
            n += per
            m.tick(sim.ticks_ms())
            ticks += 1
            if ticks == 2:
                e0 = m.metrology.energy_import.micro_wh()
    return (m.metrology.energy_import.micro_wh() - e0) / 1e6


def _load(board, cal, segments, tick_s):
    sim = LoadBoard(board)
    m = _meter(sim, board, cal)
    ticks, e0 = 0, None
    for secs, v, p, pf in segments:
        for _ in range(int(round(secs / tick_s))):
            sim.run_load(tick_s, v, p, pf, 50.0)
            m.tick(sim.ticks_ms())
            ticks += 1
            if ticks == 2:
                e0 = m.metrology.energy_import.micro_wh()
    return (m.metrology.energy_import.micro_wh() - e0) / 1e6, sim


@pytest.fixture(scope="module")
def default_board():
    return resolve_board(None, None)


@pytest.mark.parametrize("power_w, pf", [(2200.0, 1.0), (1100.0, 0.5), (110.0, 1.0), (10560.0, 0.8), (4400.0, 0.25)])
def test_constant_load_agrees_with_the_sample_model(default_board, power_w, pf):
    board, cal = default_board
    seg = [(20.0, 220.0, power_w, pf)]
    sampled = _sampled(board, cal, seg, 0.5)
    fast, sim = _load(board, cal, seg, 0.5)
    assert fast == pytest.approx(sampled, rel=TOL)
    assert sim.fast_steps > sim.full_steps  # the closed-form shortcut was taken


def test_changing_load_with_long_steps_agrees(default_board):
    board, cal = default_board
    seg = [(10.0, 220.0, 300.0, 1.0), (20.0, 220.0, 2500.0, 0.9), (10.0, 230.0, 150.0, 0.7), (20.0, 220.0, 1500.0, 1.0)]
    sampled = _sampled(board, cal, seg, 2.0)
    fast, sim = _load(board, cal, seg, 2.0)
    assert fast == pytest.approx(sampled, rel=TOL)
    true_wh = sum(s * p for s, _, p, _ in seg) / 3600 - 4 * 300.0 / 3600  # less the 2 ticks before e0
    assert fast == pytest.approx(true_wh, rel=0.01)  # and both meter within class 1


def test_supply_off_registers_nothing(default_board):
    board, cal = default_board
    fast, _ = _load(board, cal, [(10.0, 220.0, 1000.0, 1.0), (30.0, 0.0, 0.0, 1.0)], 1.0)
    on_only, _ = _load(board, cal, [(10.0, 220.0, 1000.0, 1.0)], 1.0)
    assert fast == pytest.approx(on_only, abs=0.001)


def test_transfer_bus_answers_every_register_like_the_byte_bus():
    """The long-run board's transfer-level SPI gives the same bytes, and leaves
    the chip in the same state (read side effects, CHKSUM), as the model's own
    per-byte bus, for every address, reads and writes, with energy in the chip."""
    from host_sim import ade7753_model as am
    from host_sim.frontend import DEFAULT_BOARD, load_board

    board = load_board(DEFAULT_BOARD)
    fast, slow = LoadBoard(board), SimBoard(board)
    ch1, ch2, ph = fast.pins_for(230.0, 1800.0, 0.8, 50.0)
    for sim in (fast, slow):
        sim.model.feed_steady(ch1, ch2, ph, 50.0, 3.0)
    for addr in list(range(64)) + [am.CHKSUM, am.RSTSTATUS, am.STATUS, am.RAENERGY, am.AENERGY]:
        got = []
        for sim in (fast, slow):
            spi, cs = sim.model.spi, sim.model.cs
            n = am._nbytes(am._BY_ADDR[addr][1]) if addr in am._BY_ADDR else 1
            buf = bytearray(n)
            cs.value(0)
            spi.write(bytes([addr]))
            spi.readinto(buf)
            cs.value(1)
            got.append((bytes(buf), sim.model.peek(am.CHKSUM), sim.model._acc, sim.model._r[am.STATUS]))
        assert got[0] == got[1], hex(addr)
    for sim in (fast, slow):  # a write, then a read-back through the same bus
        spi, cs = sim.model.spi, sim.model.cs
        cs.value(0)
        spi.write(bytes([0x80 | am.WGAIN]))
        spi.write(b"\x01\x23")
        cs.value(1)
    assert fast.model.peek(am.WGAIN) == slow.model.peek(am.WGAIN) == 0x123


@pytest.mark.parametrize("wdiv", [0, 4])
def test_cf_pulses_of_the_fast_path_match_every_step_run_in_full(default_board, wdiv):
    """CF counts the energy before WDIV divides the accumulator (ade7753.md), on
    the closed-form shortcut as in feed_steady: the same pulses either way."""
    from host_sim import ade7753_model as am

    board, _ = default_board
    counts = []
    for shortcut in (True, False):
        sim = LoadBoard(board)
        sim.model.poke(am.WDIV, wdiv)
        sim.model.poke(am.MODE, 0)  # CF on (its reset value has DISCF set)
        sim.shortcut = shortcut  # False: every step through feed_steady
        for _ in range(40):
            sim.run_load(1.0, 220.0, 3000.0, 1.0, 50.0)
        counts.append(sim.model.cf_pulses)
        if shortcut:
            assert sim.fast_steps > 30
    assert counts[0] > 0 and abs(counts[0] - counts[1]) <= 1
