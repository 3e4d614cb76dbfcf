"""The application's boot, loop timing, fault counting and logging, on a bare
fake board (ticks that move only when the loop sleeps or a service works):
exact events (kind, source, detail), the boot/crash counter file, the fail
limit at exactly 20, the schedule when a pass overruns, the maintenance boot
through main(). Found untested by mutation (make mutate, docs/mutation.md).
Expected values are written out by hand in each test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import app as fw_app
import persist
import storage
from fixtures import design_cal
from image_chip import ImageChip


class FakeHw:
    """What App needs of hardware.Hardware, recorded."""

    def __init__(self, rtc=(2026, 3, 1, 6, 8, 0, 0, 0), cause="power_on", button=False):
        self.t = 0
        self.rtc = rtc
        self.cause = cause
        self.button = button
        self.chip = ImageChip()
        self.sleeps: list[int] = []
        self.resets: list[int] = []
        self.feeds = 0
        self.watchdog = False

    def ticks_ms(self) -> int:
        return self.t

    def sleep_ms(self, ms: int) -> None:
        self.sleeps.append(ms)
        self.t += ms

    def button_held(self) -> bool:
        return self.button

    def rtc_datetime(self):
        return self.rtc

    def reset_cause(self) -> str:
        return self.cause

    def start_watchdog(self) -> None:
        self.watchdog = True

    def feed_watchdog(self) -> None:
        self.feeds += 1

    def reset(self) -> None:
        self.resets.append(self.t)

    def build_metering_bus(self):
        return self.chip, self.chip


class Scripted:
    """A service that fails on the passes listed in `fails` (1-based) and may
    take `work_ms` of board time on given passes."""

    name = "scripted"

    def __init__(self, hw: FakeHw, fails=(), work_ms=None):
        self.hw = hw
        self.fails = set(fails)
        self.work_ms = work_ms or {}
        self.calls = 0
        self.seen: list[int] = []

    def poll(self, now_ms: int) -> None:
        self.calls += 1
        self.seen.append(now_ms)
        self.hw.t += self.work_ms.get(self.calls, 0)
        if self.calls in self.fails:
            raise ZeroDivisionError("pass %d" % self.calls)


@pytest.fixture
def fs(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the firmware's files live in its cwd
    return tmp_path


def _events(app):
    return [e[2:5] for e in app.events.entries()]


def _oserror_text(path: str) -> str:
    """What opening `path` (a directory) for writing raises, as the log shows it."""
    try:
        open(path, "w")
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)
    raise AssertionError("%s opened" % path)


# --- boot --------------------------------------------------------------------
def test_boot_counts_a_watchdog_reset_as_a_crash_and_logs_exactly(fs):
    (fs / "boots.txt").write_text("7 3\n")
    hw = FakeHw(rtc=(2024, 6, 1, 5, 0, 0, 0, 0), cause="watchdog")  # RTC lost its time
    a = fw_app.App(hw)
    a.boot()
    assert (a.boots, a.crashes) == (8, 4)
    assert (fs / "boots.txt").read_text() == "8 4\n"
    assert _events(a) == [("clock_unset", "app", 0), ("boot", "app", "watchdog")]
    assert hw.watchdog and [s.name for s in a.services] == ["metrology", "billing", "prepay", "storage"]


def test_boot_after_power_on_is_not_a_crash(fs):
    (fs / "boots.txt").write_text("1 0\n")
    a = fw_app.App(FakeHw())
    a.boot()
    assert (a.boots, a.crashes) == (2, 0)
    assert _events(a) == [("boot", "app", "power_on")]
    assert (a.clock.day, a.clock.sod) == (9556, 8 * 3600)


@pytest.mark.parametrize("text", ["x 3\n", "5\n"])
def test_a_corrupt_boot_record_starts_again_from_zero_and_is_logged(fs, text):
    (fs / "boots.txt").write_text(text)
    a = fw_app.App(FakeHw())
    a.boot()
    assert (a.boots, a.crashes) == (1, 0)
    assert _events(a)[0] == ("boot_record_corrupt", "app", 0)
    assert (fs / "boots.txt").read_text() == "1 0\n"


def test_a_boot_record_that_cannot_be_written_is_logged_and_the_old_one_kept(fs):
    (fs / "boots.txt").write_text("4 1\n")
    os.mkdir("boots.txt.tmp")  # the temporary file cannot be created
    expected = _oserror_text("boots.txt.tmp")
    a = fw_app.App(FakeHw())
    a.boot()
    assert (a.boots, a.crashes) == (5, 1)  # counted in RAM
    assert ("storage_fault", "app", expected) in _events(a)
    assert (fs / "boots.txt").read_text() == "4 1\n"


# --- the metering service without / with a calibration ----------------------
def test_uncalibrated_metering_says_why_once_then_picks_up_the_calibration(fs):
    hw = FakeHw()
    a = fw_app.App(hw)
    said: list[str] = []
    a.out = said.append
    a.boot()
    try:
        open("calibration.json")
    except OSError as e:
        why = "not calibrated: %s" % e
    a.step()
    a.step()
    assert said == [why]
    assert _events(a)[-1] == ("not_calibrated", "metrology", why)
    assert a.metering.why_not == why
    (fs / "calibration.json").write_text("{broken")
    a.step()
    assert said[-1] == "not calibrated: calibration.json: not valid JSON"
    (fs / "calibration.json").write_text(design_cal().to_json())
    a.step()
    assert a.metering.meter is not None and a.metering.meter.started
    assert a.metering.why_not is None
    assert len(said) == 2


# --- the loop: fail limit, pass count, watchdog ---------------------------------
def _app_with(fs, svc_factory):
    hw = FakeHw()
    a = fw_app.App(hw)
    svc = svc_factory(hw)
    a.add(svc)
    return hw, a, svc


def test_a_service_is_reset_on_exactly_its_20th_failure_in_a_row(fs):
    hw, a, svc = _app_with(fs, lambda hw: Scripted(hw, fails=range(1, 100)))
    for _ in range(19):
        a.step()
    assert hw.resets == [] and hw.feeds == 19 and a.faults == 19 and a.passes == 19
    assert a.events.newest()[2:6] == ("fault", "scripted", "ZeroDivisionError: pass 19", 1)
    a.step()
    assert len(hw.resets) == 1 and hw.feeds == 19  # no feed after the failing pass
    assert a.events.find("deliberate_reset")[2:5] == ("deliberate_reset", "app", "scripted")
    assert (fs / "boots.txt").read_text() == "0 1\n"  # a crash, not a boot


def test_one_good_pass_starts_the_failure_count_again(fs):
    fails = list(range(1, 20)) + list(range(21, 40))  # 19 bad, 1 good, 19 bad
    hw, a, svc = _app_with(fs, lambda hw: Scripted(hw, fails=fails))
    for _ in range(39):
        a.step()
    assert hw.resets == [] and a.faults == 38 and a.passes == 39 and hw.feeds == 39


def test_snapshot_is_not_written_without_a_started_meter(fs):
    hw = FakeHw()
    hw.chip.absent = True  # calibrated, but the chip does not answer
    (fs / "calibration.json").write_text(design_cal().to_json())
    a = fw_app.App(hw)
    a.boot()
    a.run(2)
    hw.t += 300_000
    a.step()
    a.save_snapshot()  # the registers are saved, but no meter part without a started meter
    assert not a.metering.meter.started
    saved = persist.decode(storage.Store(storage.OsFs()).load(persist.RECORD, persist.VERSION))
    assert saved.meter == b""
    a2 = fw_app.App(FakeHw())  # no calibration, not booted: no storage service yet
    assert a2.save_snapshot() is False


def test_a_snapshot_that_cannot_be_written_is_logged(fs):
    hw = FakeHw()
    (fs / "calibration.json").write_text(design_cal().to_json())
    os.mkdir("regs.a")  # both copies unwritable
    os.mkdir("regs.b")
    a = fw_app.App(hw)
    a.boot()
    a.step()
    assert a.save_snapshot() is False
    kind, source, detail = _events(a)[-1]
    assert (kind, source) == ("storage_error", "storage")
    assert detail.startswith("regs: save of seq 1 to copy a failed (") and detail.endswith("); seq 0 kept")


# --- the loop's schedule ---------------------------------------------------------
def test_a_pass_that_ends_1_ms_before_the_next_is_due_still_waits(fs):
    hw, a, svc = _app_with(fs, lambda hw: Scripted(hw, work_ms={1: 499, 2: 499}))
    a.run(3)
    assert svc.seen == [0, 500, 1000]
    assert hw.sleeps == [1, 1]


def test_exactly_one_tick_behind_catches_up_more_skips(fs):
    # pass 1 overruns to 1500 ms: the passes due at 500 and 1000 are late;
    # 1000 is exactly 500 ms behind, so it still runs, then 1500 is on time
    hw, a, svc = _app_with(fs, lambda hw: Scripted(hw, work_ms={1: 1500}))
    a.run(4)
    assert svc.seen == [0, 1500, 1500, 1500]
    hw, a, svc = _app_with(fs, lambda hw: Scripted(hw, work_ms={1: 1501}))
    a.run(3)
    assert svc.seen == [0, 1501, 2001]  # 501 ms behind: the schedule restarts from now


# --- maintenance boot through main() -----------------------------------------------
def test_main_builds_the_hardware_and_stops_for_maintenance(fs, capsys, monkeypatch):
    import time

    import hardware
    import machine

    # MicroPython's time functions, which CPython lacks
    monkeypatch.setattr(time, "ticks_ms", lambda: 0, raising=False)
    monkeypatch.setattr(time, "sleep_ms", lambda ms: None, raising=False)
    (fs / "maintenance.flag").write_text("")
    machine.attach_board(None)
    a = fw_app.main()
    assert isinstance(a.hw, hardware.Hardware)
    assert capsys.readouterr().out == (
        "maintenance mode (flag file): metering stopped, watchdog off, REPL free; "
        "reset the board to resume\n")
    assert not (fs / "maintenance.flag").exists() and a.services == []


def test_maintenance_reasons(fs):
    assert fw_app.App(FakeHw()).maintenance_requested() is None
    assert fw_app.App(FakeHw(button=True)).maintenance_requested() == "button held at power-up"
    (fs / "maintenance.flag").write_text("")
    assert fw_app.App(FakeHw(button=True)).maintenance_requested() == "flag file"  # the flag first
    assert fw_app.App(FakeHw(button=True)).maintenance_requested() == "button held at power-up"


def test_a_corrupt_snapshot_is_logged_and_the_chip_started_cold(fs):
    (fs / "calibration.json").write_text(design_cal().to_json())
    storage.Store(storage.OsFs()).save(persist.RECORD, persist.VERSION,
                                       persist.encode(b"M2 garbage\n", b"", b"", b"", -1, 0))
    a = fw_app.App(FakeHw())
    a.boot()
    a.step()
    ev = _events(a)
    assert ("snapshot_rejected", "app", "snapshot: not an M1 record") in ev
    assert ev[-1] == ("cold_chip", "metrology", 0)
