"""hardware.py, the one wiring module, against recording stand-ins for the
`machine` classes: the pins and SPI mode the board wiring (README, board.py's
table) asks for, the debounced button, reset causes, watchdog and RTC.
Pin numbers and the mode are written out here from the wiring table."""
from __future__ import annotations

import machine  # the host fake
import pytest

import hardware


class RecPin:
    IN, OUT, PULL_UP = 0, 1, 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self.id, self.mode, self.pull, self.init_value = id, mode, pull, value
        self.reads: list[int] = []

    def value(self, v=None):
        return self.reads.pop(0) if self.reads else 1


class RecSPI:
    made: list[RecSPI] = []

    def __init__(self, id, **kw):
        self.id, self.kw = id, kw
        RecSPI.made.append(self)


class RecRTC:
    def __init__(self):
        self.set_to = None

    def datetime(self, dt=None):
        if dt is not None:
            self.set_to = dt
        return (2026, 3, 1, 6, 8, 0, 0, 0)


class RecWDT:
    def __init__(self, timeout):
        self.timeout = timeout
        self.feeds = 0

    def feed(self):
        self.feeds += 1


@pytest.fixture
def hw(monkeypatch):
    monkeypatch.setattr(machine, "Pin", RecPin)
    monkeypatch.setattr(machine, "SPI", RecSPI)
    monkeypatch.setattr(machine, "RTC", RecRTC)
    monkeypatch.setattr(machine, "WDT", RecWDT)
    RecSPI.made = []
    sleeps: list[int] = []
    h = hardware.Hardware(ticks_ms=lambda: 0, sleep_ms=sleeps.append)
    h.sleeps = sleeps
    return h


def test_metering_bus_is_vspi_mode_1_with_chip_select_idle_high(hw):
    spi, cs = hw.build_metering_bus()
    assert spi.id == 2
    assert spi.kw["baudrate"] == 1_000_000 and spi.kw["polarity"] == 0 and spi.kw["phase"] == 1
    assert (spi.kw["sck"].id, spi.kw["mosi"].id, spi.kw["miso"].id) == (18, 23, 19)
    assert (cs.id, cs.mode, cs.init_value) == (5, RecPin.OUT, 1)
    assert hw.build_metering_bus() == (spi, cs) and len(RecSPI.made) == 1  # built once


def test_button_is_gpio0_pulled_up_and_debounced_over_three_reads(hw):
    assert (hw.button.id, hw.button.mode, hw.button.pull) == (0, RecPin.IN, RecPin.PULL_UP)
    hw.button.reads = [0, 0, 0]  # held (active low) for 30 ms
    assert hw.button_held() is True and hw.sleeps == [10, 10, 10]
    hw.sleeps.clear()
    hw.button.reads = [0, 0, 1]  # released on the third read: a bounce
    assert hw.button_held() is False and hw.sleeps == [10, 10]
    hw.sleeps.clear()
    hw.button.reads = [1]
    assert hw.button_held() is False and hw.sleeps == []


@pytest.mark.parametrize("cause, name", [(1, "power_on"), (3, "watchdog"), (5, "soft"), (2, "hard"),
                                         (4, "deep_sleep"), (0, "other"), (99, "other")])
def test_reset_causes_by_name(hw, monkeypatch, cause, name):
    monkeypatch.setattr(machine, "PWRON_RESET", 1)
    monkeypatch.setattr(machine, "HARD_RESET", 2)
    monkeypatch.setattr(machine, "WDT_RESET", 3)
    monkeypatch.setattr(machine, "DEEPSLEEP_RESET", 4)
    monkeypatch.setattr(machine, "SOFT_RESET", 5)
    monkeypatch.setattr(machine, "reset_cause", lambda: cause)
    assert hw.reset_cause() == name


def test_watchdog_is_8_s_and_fed_only_once_started(hw):
    hw.feed_watchdog()  # not started: nothing to feed, no error
    assert hw.wdt is None
    hw.start_watchdog()
    assert hw.wdt.timeout == 8000
    hw.feed_watchdog()
    hw.feed_watchdog()
    assert hw.wdt.feeds == 2


def test_rtc_is_read_and_set_through(hw):
    assert hw.rtc_datetime() == (2026, 3, 1, 6, 8, 0, 0, 0)
    hw.set_rtc((2026, 4, 2, 3, 9, 30, 0, 0))
    assert hw.rtc.set_to == (2026, 4, 2, 3, 9, 30, 0, 0)


def test_reset_goes_to_machine_reset(hw):
    with pytest.raises(machine.DeviceReset):
        hw.reset()
