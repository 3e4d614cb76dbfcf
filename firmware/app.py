"""The application: boot, the services, the loop, the watchdog.

Boot order: maintenance check (button held at power-up, or the one-shot flag
file the console writes: no watchdog, the loop not started, the REPL left
free) -> reset cause and the persisted boot/crash counter, logged -> hardware
(hardware.py, the one wiring module) -> the services. Each pass reads the clock
once and polls every service with the same now_ms, each inside its own guard:
an exception is logged (kind "fault", the service, the message; repeats
counted), that service is retried next pass, the others go on. A service that
fails _FAIL_LIMIT passes in a row gets the state saved and the board reset on
purpose, logged. The watchdog is fed only after a pass whose health checks
hold, so a hung loop is reset by it.
"""
import os

from micropython import const

import board
import calibration
from clock import Clock
from events import EventLog
from meter import Meter
from ticks import ticks_add, ticks_diff

MAINTENANCE_FLAG = "maintenance.flag"  # written by the console; consumed at boot
BOOT_FILE = "boots.txt"  # "boots crashes": persisted boot/crash counter
SNAPSHOT_FILE = "meter.snap"  # registers + AENERGY baseline (until storage.py)
_FAIL_LIMIT = const(20)  # consecutive failed passes of one service -> reset on purpose
_SNAPSHOT_MS = const(300_000)  # warm-boot record age limit is far longer (see meter.py)
_SOURCE = "app"


def _describe(e):
    return "%s: %s" % (type(e).__name__, e)


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)  # atomic on littlefs


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


class MeteringService:
    """The meter once a valid calibration exists; until then the loop runs
    unmetered (watchdog fed) and picks the calibration up without a reboot."""

    name = "metrology"

    def __init__(self, app, cal_path):
        self._app = app
        self._cal_path = cal_path
        self.meter = None
        self.why_not = None  # why there is no meter yet (shown once)

    def poll(self, now_ms):
        if self.meter is not None:
            self.meter.poll(now_ms)
            return
        app = self._app
        try:
            with open(self._cal_path) as f:
                cal = calibration.from_json(f.read(), self._cal_path)
            spi, cs = app.hw.build_metering_bus()
            meter = Meter(spi, cs, cal, board.CLKIN_HZ, events=app.events)
        except (OSError, calibration.CalibrationError) as e:
            why = "not calibrated: %s" % e
            if why != self.why_not:
                app.events.log("not_calibrated", self.name, why)
                app.say(why)
            self.why_not = why
            return
        self.why_not = None
        self.meter = meter
        meter.start(now_ms, app.restore_snapshot(meter))


class App:
    def __init__(self, hw, cal_path=board.CALIBRATION_FILE):
        self.hw = hw
        self.clock = Clock(hw.ticks_ms)
        self.events = EventLog(self.clock)
        self.services = []
        self._fails = []
        self.metering = MeteringService(self, cal_path)
        self.passes = 0
        self.faults = 0
        self.boots = 0
        self.crashes = 0
        self.reset_cause = ""
        self._last_snapshot_ms = 0
        self.out = print  # the port; the console will take this over

    def say(self, text):
        self.out(text)

    def add(self, service):
        self.services.append(service)
        self._fails.append(0)

    # --- boot ------------------------------------------------------------
    def maintenance_requested(self):
        """Button held at power-up, or the console's one-shot flag file."""
        if _read(MAINTENANCE_FLAG) is not None:
            os.remove(MAINTENANCE_FLAG)  # one boot only: never stuck out of service
            return "flag file"
        if self.hw.button_held():
            return "button held at power-up"
        return None

    def boot(self):
        if not self.clock.set_from_rtc(self.hw.rtc_datetime()):
            self.events.log("clock_unset", _SOURCE, 0)
        self.reset_cause = self.hw.reset_cause()
        self._count_boot(self.reset_cause == "watchdog")
        self.events.log("boot", _SOURCE, self.reset_cause)
        self.add(self.metering)
        self.hw.start_watchdog()

    def _count_boot(self, crashed, bump_boots=True):
        boots = crashes = 0
        text = _read(BOOT_FILE)
        if text:
            try:
                parts = text.split()
                boots, crashes = int(parts[0]), int(parts[1])
            except (ValueError, IndexError):
                self.events.log("boot_record_corrupt", _SOURCE, 0)
        if bump_boots:
            boots += 1
        if crashed:
            crashes += 1
        self.boots, self.crashes = boots, crashes
        try:
            _write_atomic(BOOT_FILE, "%d %d\n" % (boots, crashes))
        except OSError as e:
            self.events.log("storage_fault", _SOURCE, _describe(e))

    # --- the loop --------------------------------------------------------
    def step(self):
        """One pass: every service with the same now_ms, each guarded."""
        self.clock.update()
        now = self.clock.now_ms
        failing = None
        services = self.services
        fails = self._fails
        i = 0
        while i < len(services):
            svc = services[i]
            try:
                svc.poll(now)
                fails[i] = 0
            except Exception as e:  # contain it: the other services go on
                fails[i] += 1
                self.faults += 1
                self.events.log("fault", svc.name, _describe(e))
                if fails[i] >= _FAIL_LIMIT:
                    failing = svc.name
            i += 1
        self.passes += 1
        if failing is not None:
            self.reset_on_purpose(failing)
            return
        if ticks_diff(now, self._last_snapshot_ms) >= _SNAPSHOT_MS:
            self.save_snapshot()
        self.hw.feed_watchdog()  # the pass ran to its end and its checks held

    def run(self, max_passes=-1):
        """The loop, one pass every board.TICK_MS (forever on the device)."""
        hw = self.hw
        due = hw.ticks_ms()
        done = 0
        while done != max_passes:
            now = hw.ticks_ms()
            wait = ticks_diff(due, now)
            if wait > 0:
                hw.sleep_ms(wait)
                continue
            self.step()
            due = ticks_add(due, board.TICK_MS)
            if ticks_diff(now, due) > board.TICK_MS:  # fell behind: don't burst
                due = ticks_add(now, board.TICK_MS)
            done += 1

    def reset_on_purpose(self, why):
        self.events.log("deliberate_reset", _SOURCE, why)
        self.save_snapshot()
        self._count_boot(True, bump_boots=False)
        self.hw.reset()

    # --- warm-boot record (registers + AENERGY baseline) -------------------
    def save_snapshot(self):
        self._last_snapshot_ms = self.clock.now_ms
        meter = self.metering.meter
        if meter is None or not meter.started:
            return
        try:
            _write_atomic(SNAPSHOT_FILE, meter.snapshot_text(self.clock))
        except OSError as e:
            self.events.log("storage_fault", _SOURCE, _describe(e))

    def restore_snapshot(self, meter):
        """Registers and the AENERGY baseline from the last snapshot, or None."""
        text = _read(SNAPSHOT_FILE)
        if text is None:
            return None
        try:
            return meter.restore_snapshot(text, self.clock)
        except ValueError as e:
            self.events.log("snapshot_rejected", _SOURCE, str(e))
            return None


def main(hw=None):
    """Device entry point (main.py). Returns only in maintenance mode."""
    if hw is None:
        import hardware

        hw = hardware.Hardware()
    app = App(hw)
    why = app.maintenance_requested()
    if why is not None:
        app.say("maintenance mode (%s): metering stopped, watchdog off, REPL free; "
                "reset the board to resume" % why)
        return app
    app.boot()
    app.run()
    return app
