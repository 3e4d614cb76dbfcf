"""The application loop on a simulated board, booted and rebooted like the
device (host_sim.device.SimDevice): fault containment, the watchdog, the
maintenance boot, warm restarts, the clock. Expected energy comes from the
load written in the test (watts x time), not from the firmware."""
from __future__ import annotations

import math
import shutil

import machine  # the host fake (host_sim/fakes/machine.py)
import numpy as np
import pytest

from host_sim.device import SimDevice
from host_sim.frontend import BOARDS_DIR, load_board
from host_sim.simboard import SimBoard

FS = 4000.0
WATTS = 2200.0  # 220 V x 10 A, PF 1, on the ideal board


class Sine:
    """Feeds 220 V / 10 A (PF 1) into the board while the firmware sleeps."""

    def __init__(self, sim: SimBoard, amps: float = 10.0) -> None:
        self.sim = sim
        self.amps = amps
        self.samples = 0

    def __call__(self, ms: int) -> None:
        n = int(round(ms * FS / 1000))
        t = (self.samples + np.arange(n)) / FS
        self.samples += n
        w = 2 * math.pi * 50 * t
        self.sim.feed(311.127 * np.sin(w), self.amps * math.sqrt(2) * np.sin(w), FS)

    def seconds(self) -> float:
        return self.samples / FS


@pytest.fixture
def device(tmp_path):
    shutil.copy(BOARDS_DIR / "ideal.cal.json", tmp_path / "calibration.json")
    sim = SimBoard(load_board(BOARDS_DIR / "ideal.json"))
    sim.rtc.set((2026, 3, 1, 6, 8, 0, 0, 0))
    dev = SimDevice(sim, tmp_path)
    dev.advance = Sine(sim)
    yield dev
    machine.attach_board(None)


def _kinds(app):
    return [e[2] for e in app.events.entries()]


def _wh(app):
    return app.metering.meter.metrology.energy_import.wh()


def test_the_loop_meters_and_feeds_the_watchdog(device):
    app = device.run(40)
    assert machine.WDT.last is not None and machine.WDT.last.feeds == 40
    # the first pass only takes the baseline; every later second is registered
    expected = WATTS * (device.advance.seconds() - 0.0) / 3600
    assert _wh(app) == pytest.approx(expected, rel=0.01)
    assert _kinds(app)[:2] == ["boot", "cold_chip"]
    assert app.reset_cause == "power_on" and app.boots == 1


class Exploding:
    """A service that raises from `at` passes on, `times` times."""

    name = "exploding"

    def __init__(self, at: int = 0, times: int = 10**9, exc: type = ZeroDivisionError) -> None:
        self.calls = 0
        self.at = at
        self.times = times
        self.exc = exc

    def poll(self, now_ms: int) -> None:
        self.calls += 1
        if self.at <= self.calls < self.at + self.times:
            raise self.exc("injected fault %d" % self.calls)


@pytest.mark.parametrize("exc", [ZeroDivisionError, KeyError, MemoryError, OSError])
def test_a_failing_service_is_contained_and_the_others_go_on(device, exc):
    app = device.run(1)
    bad = Exploding(at=2, times=5, exc=exc)
    app.services.insert(0, bad)  # polled before metering, in the same pass
    app._fails.insert(0, 0)
    app = device.run(20)
    assert app.faults == 5
    ev = app.events.find("fault", "exploding")
    assert ev is not None and exc.__name__ in ev[4] and ev[5] == 1  # last of 5 distinct messages
    assert machine.WDT.last.feeds == 21  # fed after every pass: metering was healthy
    assert _wh(app) == pytest.approx(WATTS * device.advance.seconds() / 3600, rel=0.01)
    assert device.boots == []


def test_a_service_that_keeps_failing_resets_the_board_and_nothing_is_lost(device):
    app = device.run(10)
    bad = Exploding(at=1, exc=RuntimeError)
    app.add(bad)
    device.run(30)
    assert [b.cause for b in device.boots] == ["soft"]
    first = device.boots[0]
    app2 = device.app
    assert app2 is not app
    assert app2.reset_cause == "soft" and app2.crashes == 1 and app2.boots == 2
    # the deliberate reset was logged before it happened, with the culprit
    assert app.events.find("deliberate_reset")[4] == "exploding"
    # warm chip + the snapshot saved before the reset: no energy lost
    assert "warm_boot" in _kinds(app2)
    assert _wh(app2) == pytest.approx(WATTS * device.advance.seconds() / 3600, rel=0.01)
    assert first.at_ms > 0


class Hanging:
    """A service that hangs (sleeps on the board's clock) on its n-th call."""

    name = "hanging"

    def __init__(self, sleep_ms, at: int) -> None:
        self.sleep_ms = sleep_ms
        self.at = at
        self.calls = 0

    def poll(self, now_ms: int) -> None:
        self.calls += 1
        if self.calls == self.at:
            self.sleep_ms(60_000)  # never returns: the watchdog fires inside


def test_a_hung_loop_is_reset_by_the_watchdog_and_keeps_its_energy(device):
    app = device.run(600)  # 5 min: the periodic snapshot has been taken
    app.add(Hanging(app.hw.sleep_ms, at=3))
    device.run(20)
    assert [b.cause for b in device.boots] == ["watchdog"]
    assert "not fed" in device.boots[0].why
    app2 = device.app
    assert app2.reset_cause == "watchdog" and app2.crashes == 1
    assert "warm_boot" in _kinds(app2)
    # the chip kept counting through the hang and the reboot: the snapshot's
    # baseline books all of it
    assert _wh(app2) == pytest.approx(WATTS * device.advance.seconds() / 3600, rel=0.01)


def test_warm_restart_registers_what_a_restart_free_run_does(device, tmp_path_factory):
    # the same load with and without an ESP32 reset in the middle
    twin_dir = tmp_path_factory.mktemp("twin")
    shutil.copy(BOARDS_DIR / "ideal.cal.json", twin_dir / "calibration.json")
    twin_sim = SimBoard(load_board(BOARDS_DIR / "ideal.json"))
    twin_sim.rtc.set((2026, 3, 1, 6, 8, 0, 0, 0))
    twin = SimDevice(twin_sim, twin_dir)
    twin.advance = Sine(twin_sim)
    try:
        ref = twin.run(200)
    finally:
        machine.attach_board(None)
    ref_lsb = ref.metering.meter.metrology.energy_import
    device.run(120)
    with device.on_device():
        device.app.save_snapshot()  # as the storage policy would on an energy step
    device.run(130)  # registered in RAM only
    device.app.hw.sleep_ms(3000)  # energy flows while ...
    device.app = None  # ... the ESP32 restarts (RAM lost, chip powered)
    app = device.run(70, cause=machine.HARD_RESET)
    m = app.metering.meter.metrology.energy_import
    # lsb-exact would need the same pass phase; within one 500 ms tick of
    # energy (the reboot itself takes no chip time here)
    seconds = device.advance.seconds()
    assert m.wh() == pytest.approx(WATTS * seconds / 3600, abs=WATTS * 0.6 / 3600)
    assert ref_lsb.wh() == pytest.approx(WATTS * twin.advance.seconds() / 3600, abs=WATTS * 0.6 / 3600)


def test_maintenance_boot_by_flag_file_leaves_the_repl_free(device, capsys):
    (device.files / "maintenance.flag").write_text("console\n")
    import app as fw_app

    machine.attach_board(device.sim)
    import os

    cwd = os.getcwd()
    os.chdir(device.files)
    try:
        machine.WDT.last = None
        hw = __import__("hardware").Hardware(ticks_ms=device.sim.ticks_ms, sleep_ms=device.sim.idle)
        a = fw_app.main(hw)
        assert machine.WDT.last is None  # no watchdog was started
        assert a.passes == 0  # the loop did not start
        device.sim.idle(10 * 60_000)  # minutes at the REPL: nothing resets the board
        assert "maintenance mode (flag file)" in capsys.readouterr().out
        assert not (device.files / "maintenance.flag").exists()  # one boot only
        assert fw_app.App(hw).maintenance_requested() is None
    finally:
        os.chdir(cwd)


def test_maintenance_boot_by_button_held_at_power_up(device, capsys):
    import board
    import app as fw_app

    machine.attach_board(device.sim)
    device.sim.pin(board.PIN_BUTTON).value(0)  # held down (active low)
    hw = __import__("hardware").Hardware(ticks_ms=device.sim.ticks_ms, sleep_ms=device.sim.idle)
    machine.WDT.last = None
    a = fw_app.main(hw)
    assert machine.WDT.last is None and a.passes == 0
    assert "button held" in capsys.readouterr().out
    device.sim.pin(board.PIN_BUTTON).value(1)
    assert fw_app.App(hw).maintenance_requested() is None


def test_uncalibrated_meter_loops_unmetered_then_picks_up_a_calibration(device, capsys):
    (device.files / "calibration.json").write_text("{}")
    app = device.run(4)
    assert app.metering.meter is None
    assert machine.WDT.last.feeds == 4  # no reboot loop
    out = capsys.readouterr().out
    assert out.count("not calibrated") == 1
    shutil.copy(BOARDS_DIR / "ideal.cal.json", device.files / "calibration.json")
    app = device.run(4)
    assert app.metering.meter is not None and app.metering.meter.started
    assert capsys.readouterr().out == ""


def test_loop_keeps_running_without_a_chip(device):
    device.sim.model.absent = True
    app = device.run(5)
    assert not app.metering.meter.started
    assert app.metering.meter.chip_errors == 5
    assert machine.WDT.last.feeds == 5


def test_wall_clock_runs_from_the_rtc_and_survives_a_reset(device):
    import clock

    app = device.run(20)  # 10 s after 08:00:00
    assert app.clock.valid
    assert clock.iso(app.clock.day, app.clock.sod) == "2026-03-01T08:00:09"
    app.add(Exploding(at=1, exc=RuntimeError))
    device.run(25)
    app2 = device.app
    assert app2.clock.valid and app2.clock.day == clock.days_from_civil(2026, 3, 1)
    assert abs(app2.clock.sod - (8 * 3600 + device.sim.time_ms // 1000)) <= 1


def test_a_lost_rtc_leaves_the_clock_unset_and_logged(device):
    device.sim.rtc.lose()
    app = device.run(3)
    assert not app.clock.valid and "clock_unset" in _kinds(app)


class Stamping:
    """Records the time of every pass; stalls the loop 5 s on its 3rd."""

    name = "stamping"

    def __init__(self, sleep_ms) -> None:
        self.sleep_ms = sleep_ms
        self.at: list[int] = []

    def poll(self, now_ms: int) -> None:
        self.at.append(now_ms)
        if len(self.at) == 3:
            self.sleep_ms(5000)  # a flash erase storm: shorter than the watchdog


def test_the_loop_does_not_burst_after_falling_behind(device):
    app = device.run(1)
    st = Stamping(app.hw.sleep_ms)
    app.add(st)
    device.run(12)
    gaps = [b - a for a, b in zip(st.at, st.at[1:])]
    assert gaps[2] >= 5000  # the stall
    # after it, passes keep their 500 ms spacing: no burst to catch up
    assert all(g >= 500 for g in gaps[3:]), gaps
    assert device.boots == []
