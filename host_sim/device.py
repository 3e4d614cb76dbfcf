"""A simulated meter that boots, runs and reboots like the device.

`SimDevice` runs firmware/app.py (the device's own application, through
hardware.py and the fake `machine` module) on a SimBoard: the loop sleeps on
the virtual clock, and while it sleeps the board's analog side advances (the
`advance` callback feeds it) and the fake watchdog is checked, so a loop that
stops feeding it is reset as on the device. A reset (watchdog, or the
firmware's own machine.reset()) boots a fresh application on the same board:
the ADE7753 model keeps its registers (a warm chip), the RTC keeps time, and
the firmware's files (cwd) are what the next boot reads.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import app as fw_app
import hardware as fw_hardware
import machine  # the host fake

from .flash import FlashRig
from .simboard import SimBoard


@dataclass
class BootRecord:
    at_ms: int
    cause: str
    why: str = ""


@dataclass
class SimDevice:
    sim: SimBoard
    files: Path  # the device's filesystem root (the firmware's cwd)
    advance: Callable[[int], None] | None = None  # feed the analog side for ms
    app: fw_app.App | None = None
    boots: list[BootRecord] = field(default_factory=list)
    # The firmware's records (registers, event and freeze rings) on littlefs over
    # the NOR-flash model: every boot mounts again from what the chip holds.
    # None: in the files folder (fast, no tearing). Config files stay in `files`.
    flash: FlashRig | None = None

    @contextlib.contextmanager
    def on_device(self) -> Iterator[None]:
        """Run firmware calls with the device's files as the working folder."""
        cwd = os.getcwd()
        os.chdir(self.files)
        try:
            yield
        finally:
            os.chdir(cwd)

    def _sleep_ms(self, ms: int) -> None:
        step = 100  # check the watchdog as time passes, as the hardware does
        while ms > 0:
            d = min(step, ms)
            if self.advance is not None:
                self.advance(d)
            else:
                self.sim.idle(d)
            ms -= d
            wdt = machine.WDT.last
            if wdt is not None:
                wdt.check(self.sim.time_ms)

    def boot(self, cause: int = machine.PWRON_RESET) -> fw_app.App:
        machine.attach_board(self.sim)
        machine.set_reset_cause(cause)
        machine.WDT.last = None
        hw = fw_hardware.Hardware(ticks_ms=self.sim.ticks_ms, sleep_ms=self._sleep_ms)
        a = fw_app.App(hw, fs=self.flash.reboot() if self.flash is not None else None)
        self.app = a
        return a

    def run(self, passes: int, cause: int = machine.PWRON_RESET) -> fw_app.App:
        """Boot (unless running) and run `passes` loop passes in total,
        rebooting whenever the board resets."""
        with self.on_device():
            done = 0
            a = self.app
            if a is None:
                a = self._start(cause)
            while done < passes:
                before = a.passes
                try:
                    a.run(max_passes=passes - done)
                    done = passes
                except machine.DeviceReset as r:
                    done += a.passes - before
                    self.boots.append(BootRecord(self.sim.time_ms, fw_cause(r.cause), str(r)))
                    a = self._start(r.cause)
            return a

    def _start(self, cause: int) -> fw_app.App:
        a = self.boot(cause)
        if a.maintenance_requested() is not None:
            raise RuntimeError("simulated board booted into maintenance mode")
        a.boot()
        return a


def fw_cause(cause: int) -> str:
    return {machine.PWRON_RESET: "power_on", machine.WDT_RESET: "watchdog",
            machine.SOFT_RESET: "soft", machine.HARD_RESET: "hard"}.get(cause, "other")
