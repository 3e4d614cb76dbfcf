"""firmware/main.py builds its real object graph against the fake machine
module, wired to a simulated board, and meters with the watchdog fed."""
import math
import shutil

import machine  # the host fake (host_sim/fakes/machine.py)
import numpy as np
import pytest

from host_sim.frontend import BOARDS_DIR, load_board
from host_sim.simboard import SimBoard


def test_main_runs_the_loop_on_a_simulated_board(tmp_path, monkeypatch):
    import main

    shutil.copy(BOARDS_DIR / "ideal.cal.json", tmp_path / "calibration.json")
    monkeypatch.chdir(tmp_path)
    sim = SimBoard(load_board(BOARDS_DIR / "ideal.json"))
    machine.attach_board(sim)
    fs = 8000.0
    fed = [0]

    def sleep_ms(ms):  # time passes on the board while the firmware sleeps
        n = int(ms * fs / 1000)
        t = (fed[0] + np.arange(n)) / fs
        fed[0] += n
        w = 2 * math.pi * 50 * t
        sim.feed(311.13 * np.sin(w), 14.142 * np.sin(w), fs)

    try:
        meter = main.run(max_ticks=20, ticks_ms=sim.ticks_ms, sleep_ms=sleep_ms)
    finally:
        machine.attach_board(None)
    assert machine.WDT.last is not None and machine.WDT.last.feeds == 20
    seconds = fed[0] / fs
    wh = meter.metrology.energy_import.wh()
    # 2200 W for the time after start(); the first tick's baseline is at t=0
    assert wh == pytest.approx(2200 * seconds / 3600, rel=0.01)
    assert meter.chip_errors == 0


def test_main_does_not_meter_on_a_corrupt_or_missing_calibration(tmp_path, monkeypatch, capsys):
    import main

    text = (BOARDS_DIR / "ideal.cal.json").read_text().replace('"wgain": ', '"wgain": 1')
    (tmp_path / "calibration.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    sim = SimBoard(load_board(BOARDS_DIR / "ideal.json"))
    machine.attach_board(sim)

    def sleep_ms(ms):
        sim.time_ms += ms

    try:
        assert main.run(max_ticks=4, ticks_ms=sim.ticks_ms, sleep_ms=sleep_ms) is None
        out = capsys.readouterr().out
        assert out.count("not calibrated") == 1 and "calibration.json" in out
        assert machine.WDT.last is not None and machine.WDT.last.feeds == 4  # no reboot loop
        (tmp_path / "calibration.json").unlink()
        assert main.run(max_ticks=2, ticks_ms=sim.ticks_ms, sleep_ms=sleep_ms) is None
        assert "not calibrated" in capsys.readouterr().out
        # once a valid calibration is written, the same loop starts metering
        (tmp_path / "calibration.json").write_text((BOARDS_DIR / "ideal.cal.json").read_text())
        meter = main.run(max_ticks=2, ticks_ms=sim.ticks_ms, sleep_ms=sleep_ms)
        assert meter is not None and meter.started
        assert capsys.readouterr().out == ""  # a healthy boot prints nothing
    finally:
        machine.attach_board(None)


def test_main_keeps_looping_without_a_chip(tmp_path, monkeypatch):
    import main

    shutil.copy(BOARDS_DIR / "ideal.cal.json", tmp_path / "calibration.json")
    monkeypatch.chdir(tmp_path)
    sim = SimBoard(load_board(BOARDS_DIR / "ideal.json"))
    sim.model.absent = True  # chip not fitted / dead: MISO floats high
    machine.attach_board(sim)
    ticks = [0]

    def sleep_ms(ms):
        ticks[0] += ms
        sim.time_ms = ticks[0]

    try:
        meter = main.run(max_ticks=5, ticks_ms=sim.ticks_ms, sleep_ms=sleep_ms)
    finally:
        machine.attach_board(None)
    assert not meter.started
    assert meter.chip_errors == 5  # boot + every later tick retried, none crashed the loop
    assert "CHKSUM" in meter.events[-1][2] or "not answering" in meter.events[-1][2]
    assert machine.WDT.last is not None and machine.WDT.last.feeds == 5
