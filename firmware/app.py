"""The application: boot, the services, the loop, the watchdog.

Boot order: maintenance check (button held at power-up, or the one-shot flag
file the console writes: no watchdog, the loop not started, the REPL left
free) -> storage (the "regs" record, the flash event and freeze rings) -> the
clock (RTC checked against the last-known time) -> reset cause and the
persisted boot/crash counter, logged -> the services -> the watchdog.

Services, polled in this order each pass with the same now_ms, each inside its
own guard: metering (meter.py, once calibrated) -> billing (tariff + account
debit) -> prepay (relay, buzzer, button; prepaid meters only) -> console (the
technician port, when the board has one) -> storage (saves when the policy
says so). An exception is logged (kind "fault", the service, the message;
repeats counted), that service is retried next pass, the others go on. A
service that fails _FAIL_LIMIT passes in a row gets the state saved and the
board reset on purpose, logged. The watchdog is fed only after a pass that
ran to its end, so a hung loop is reset by it.

The tariff, the account and the token gateway are built when the meter is
(they need the calibration's LSB per kWh), restored from the same record as
the energy registers. Commands (console, scenario runner) go through the App
methods below: each returns None, or a one-line reason when it is refused.
"""
import gc
import json
import os

from micropython import const

import billing
import board
import calibration
import flashring
import lastclock
import persist
import prepaysetup
import savepolicy as sp
import storage
from clock import Clock
from events import EventLog
from meter import Meter
from ticks import ticks_add, ticks_diff

MAINTENANCE_FLAG = "maintenance.flag"  # written by the console; consumed at boot
BOOT_FILE = "boots.txt"  # "boots crashes": persisted boot/crash counter
METER_FILE = "meter.json"  # {"meter_number": "...", "management_key": "hex"}
_FAIL_LIMIT = const(20)  # consecutive failed passes of one service -> reset on purpose
_DEFAULT_STEP_LSB = const(25_744)  # 0.1 kWh on the default board until calibrated
_SOURCE = "app"
_RAM_EVENTS = const(32)
TOKEN_NOT_STORED = "not_stored"  # enter_token: the credit could not be written, nothing applied
_CONSOLE_POLL_MS = const(20)  # between passes, while a console session is open


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
        self.paused = False  # register-level access by the technician
        self.why_not = None  # why there is no meter yet (shown once)

    def poll(self, now_ms):
        if self.paused:
            return
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
        meter.start(now_ms, app.restore_meter(meter))
        app.meter_ready(meter, now_ms)


class _PrepayStage:
    """The prepay service's slot in the loop (prepaid meters only)."""

    name = "prepay"

    def __init__(self, app):
        self._app = app

    def poll(self, now_ms):
        p = self._app.prepay
        if p is not None:
            p.poll(now_ms)


class App:
    def __init__(self, hw, cal_path=board.CALIBRATION_FILE, fs=None):
        self.hw = hw
        self.clock = Clock(hw.ticks_ms)
        # RAM keeps the newest events; storage moves each to the flash ring
        # (256) within passes, so 32 is ample and leaves boot heap (make test-esp32)
        self.events = EventLog(self.clock, _RAM_EVENTS)
        self.services = []
        self._fails = []
        self.cal_path = cal_path
        self.metering = MeteringService(self, cal_path)
        self.billing = billing.BillingService(self)
        self.fs = fs if fs is not None else storage.OsFs()
        self.store = storage.Store(self.fs)
        self.event_store = None
        self.freeze_store = None
        # saves the registers when the policy says so (the flash rings are opened at boot)
        self.storage = persist.StorageService(self, self.store, None, None,
                                              sp.SavePolicy(_DEFAULT_STEP_LSB, self.clock.now_ms))
        self._booted = False
        self.saved = None  # persist.Saved: the "regs" record loaded at boot
        self.prepay = None
        self.tokens = None
        self.prepay_cfg = None
        self.meter_number = "000000000000"
        self.management_key = None
        self.console = None
        self.passes = 0
        self.faults = 0
        self.boots = 0
        self.crashes = 0
        self.reset_cause = ""
        self.clock_status = lastclock.CLOCK_OK
        self.out = print  # the port; the console takes this over

    @property
    def tariff(self):
        return self.billing.tariff

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
        hw = self.hw
        self._read_meter_file()
        self._open_storage()
        self._boot_clock()
        self.reset_cause = hw.reset_cause()
        self._count_boot(self.reset_cause == "watchdog")
        self.events.log("boot", _SOURCE, self.reset_cause)
        self.storage.event_store = self.event_store
        self.storage.freeze_store = self.freeze_store
        self.storage.policy.last_save_ms = self.clock.now_ms
        self._booted = True
        self.add(self.metering)
        self.add(self.billing)
        self.add(_PrepayStage(self))
        self._add_console()
        self.add(self.storage)
        hw.start_watchdog()
        cb = getattr(hw, "on_power_fail", None)
        if cb is not None:
            cb(self.power_fail)

    def _read_meter_file(self):
        text = _read(METER_FILE)
        if text is None:
            return
        try:
            obj = json.loads(text)
            num = obj.get("meter_number", self.meter_number)
            if not (isinstance(num, str) and 1 <= len(num) <= 16 and num.isdigit()):
                raise ValueError("meter_number must be 1..16 digits")
            key = obj.get("management_key")
            if key is not None:
                if not isinstance(key, str) or len(key) not in (32, 64):
                    raise ValueError("management_key must be 32 or 64 hex digits")
                import binascii

                self.management_key = binascii.unhexlify(key)
            self.meter_number = num
        except (ValueError, TypeError, AttributeError) as e:
            self.events.log("config_rejected", _SOURCE, "%s: %s" % (METER_FILE, e))

    def _open_storage(self):
        now = self.clock.now_ms
        try:
            self.event_store = flashring.EventLog(self.fs)
            self.freeze_store = flashring.FreezeStore(self.fs)
        except (OSError, storage.StorageError) as e:
            self.events.log("storage_fault", _SOURCE, _describe(e))
        try:
            p = self.store.load(persist.RECORD, persist.VERSION, None, now)
            if p is not None:
                self.saved = persist.decode(p)
        except (OSError, storage.StorageError, ValueError) as e:
            self.events.log("storage_fault", _SOURCE, _describe(e))
        for _, kind, detail in self.store.events:
            self.events.log(kind, _SOURCE, detail)
        self.store.events.clear()

    def _boot_clock(self):
        c = self.clock
        valid = c.set_from_rtc(self.hw.rtc_datetime())
        rtc_s = c.wall_s() if valid else 0
        last = self.saved.time_s if self.saved is not None and self.saved.time_s >= 0 else None
        t, status = lastclock.check_rtc(rtc_s, last)
        self.clock_status = status
        if status == lastclock.CLOCK_OK and valid:
            return
        # Run on the last-known time, flagged unset: TOU falls back to rate 3
        # until someone sets the clock (tariff.md), and time never runs back.
        c.set(t // 86400, t % 86400)
        c.valid = False
        self.events.log("clock_lost" if status == lastclock.CLOCK_LOST else "clock_unset", _SOURCE, rtc_s)

    def _add_console(self):
        io = None
        f = getattr(self.hw, "console_io", None)
        if f is not None:
            io = f()
        if io is None:
            return
        try:
            import techport  # pyright: ignore[reportMissingImports]
        except ImportError:
            return
        self.console = techport.TechPortService(self, io)
        self.add(self.console)

    def restore_meter(self, meter):
        """Registers and the AENERGY baseline from the saved record, or None."""
        s = self.saved
        if s is None or not s.meter:
            return None
        try:
            return meter.restore_snapshot(bytes(s.meter).decode(), self.clock)
        except ValueError as e:
            self.events.log("snapshot_rejected", _SOURCE, str(e))
            return None

    def meter_ready(self, meter, now_ms):
        """The meter exists: build what needs its calibration, restored."""
        num, den = meter.metrology.cal.lsb_per_kwh()
        self.storage.policy.step_lsb = sp.step_lsb_for(num, den)
        saved = self.saved
        # Boot builds everything at once: collecting between the stages keeps
        # the peak inside the ESP32's 56 KB boot heap (make test-esp32).
        gc.collect()
        self.billing.build(meter, saved, now_ms)
        gc.collect()
        try:
            cfg = prepaysetup.read_config(self.billing.special_days)
        except ValueError as e:
            self.events.log("config_rejected", _SOURCE, str(e))
            self.say(str(e))
            cfg = None
        if cfg is not None:
            self.prepay_cfg = cfg
            self.prepay, self.tokens = prepaysetup.build(self, cfg, meter, saved, now_ms)
            gc.collect()
        self.storage.save(now_ms, sp.TIMER)  # the restored state is the newest record

    def balance_e4(self):
        """The prepaid balance for freezes (None: postpaid)."""
        p = self.prepay
        return p.account.balance_e4() if p is not None else None

    def state_payload(self):
        """The "regs" record: every register that must commit together."""
        m = self.metering.meter
        meter_text = m.snapshot_text(self.clock).encode() if m is not None and m.started else b""
        if not meter_text and self.saved is not None:
            meter_text = self.saved.meter  # not started yet: keep what we had
        tariff_b = self.billing.state_bytes()
        tariff_id = self.billing.tariff_id
        if self.billing.tariff is None and self.saved is not None:
            tariff_b, tariff_id = self.saved.tariff, self.saved.tariff_id  # not rebuilt yet: keep
        p = self.prepay
        t = self.tokens
        return persist.encode(meter_text, tariff_b, p.state_bytes() if p is not None else b"",
                              t.state_bytes() if t is not None else b"", persist.time_s(self.clock), tariff_id)

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
        self.hw.feed_watchdog()  # the pass ran to its end and its checks held

    def run(self, max_passes=-1):
        """The loop, one pass every board.TICK_MS (forever on the device)."""
        hw = self.hw
        due = hw.ticks_ms()
        done = 0
        while done != max_passes:
            now = hw.ticks_ms()
            wait = ticks_diff(due, now)
            if wait > 0 and not self.storage.policy.power_failing():
                # the SAG interrupt only schedules power_fail(); the device's
                # sleep returns early on it (hardware.py), and the pass that
                # saves runs now, within the supply's hold-up time
                c = self.console
                if c is not None and wait > _CONSOLE_POLL_MS and c.busy():
                    # an open session is not paced by the pass (iec62056.py: poll at
                    # least every 100 ms while busy); errors are logged like a service's
                    hw.sleep_ms(_CONSOLE_POLL_MS)
                    self._poll_console(hw.ticks_ms())
                    continue
                hw.sleep_ms(wait)
                continue
            self.step()
            due = ticks_add(due, board.TICK_MS)
            if ticks_diff(now, due) > board.TICK_MS:  # fell behind: don't burst
                due = ticks_add(now, board.TICK_MS)
            done += 1

    def _poll_console(self, now_ms):
        c = self.console
        if c is None:
            return
        try:
            c.poll(now_ms)
        except Exception as e:
            self.faults += 1
            self.events.log("fault", "console", _describe(e))

    def reset_on_purpose(self, why):
        self.events.log("deliberate_reset", _SOURCE, why)
        self.save_now()
        self._count_boot(True, bump_boots=False)
        self.hw.reset()

    # --- commands (console, scenario runner) --------------------------------
    def save_now(self):
        """Write the "regs" record now; True when it is on flash."""
        if not self._booted:
            return False
        try:
            return self.storage.save(self.clock.now_ms, sp.TIMER)
        except OSError as e:
            self.events.log("storage_fault", _SOURCE, _describe(e))
            return False

    # kept for the tests and tools of the loop issue
    save_snapshot = save_now

    def power_fail(self, _arg=None):
        """The SAG interrupt's scheduled callback: the next pass saves first."""
        self.storage.policy.power_fail()

    def enter_token(self, digits):
        """Decode and apply one STS token; its credit and TID are on flash
        before the result is returned. Returns the STS result name."""
        t = self.tokens
        p = self.prepay
        if t is None or p is None:
            return "function_not_supported"
        now = self.clock.now_ms
        regs, tok_state = p.account.registers(), t.state_bytes()
        result = t.enter(digits, now)
        for _, kind, detail in t.events:
            self.events.log(kind, "tokens", detail)
        t.events.clear()
        if result in ("accepted", "kc1_accepted", "kc2_accepted"):
            self.storage.policy.credit()
            if not self.storage.save(now, sp.CREDIT):
                # Not on flash (full or failing): a cut would lose a credit the
                # householder was told about. Undo it; the token may be entered again.
                p.account.restore(regs)
                t.load_state(tok_state)
                self.events.log("token_not_stored", "tokens", 0)
                result = TOKEN_NOT_STORED
        p.token_feedback(result, now)
        return result

    def set_clock(self, day, sod):
        c = self.clock
        try:
            c.set(day, sod)
        except ValueError as e:
            return str(e)
        self.hw.set_rtc(c.rtc_tuple())
        self.clock_status = lastclock.CLOCK_OK
        t = self.tariff
        if t is not None:
            t.clock_set(day, sod)
        self.events.log("clock_set", _SOURCE, day * 86400 + sod)
        self.save_now()
        return None

    def set_passive_tariff(self, text, day, sod):
        return self.billing.set_passive(text, day, sod, self.clock.now_ms)

    def freeze_now(self):
        t = self.tariff
        if t is None:
            return "freeze: no tariff"
        t.freeze_now(self.clock.day, self.clock.sod)
        self.save_now()
        return None

    def command_relay(self, closed):
        p = self.prepay
        if p is None:
            return "relay: postpaid meter (no relay policy)"
        p.command_relay(closed, self.clock.now_ms)
        self.save_now()
        return None

    def set_guaranteed_supply(self, on):
        p = self.prepay
        if p is None:
            return "guaranteed supply: postpaid meter"
        p.set_guaranteed_supply(on)
        self.save_now()
        return None

    def set_prepay_config(self, text):
        """Validate the whole [prepay] table, store it; applied at the next boot
        (the account keeps its registers)."""
        try:
            prepaysetup.parse_text(text, self.billing.special_days)
        except ValueError as e:
            return str(e)
        try:
            _write_atomic(prepaysetup.PREPAY_FILE, text)
        except OSError as e:
            return "prepay: could not store the configuration (%s)" % e
        self.events.log("config_change", _SOURCE, prepaysetup.PREPAY_FILE)
        return None

    def request_maintenance(self):
        with open(MAINTENANCE_FLAG, "w") as f:
            f.write("1")
        self.events.log("maintenance", _SOURCE, 0)
        self.save_now()
        self.hw.reset()

    def pause_metering(self):
        """Stop metering (register access by the technician); logged."""
        self.save_now()
        self.metering.paused = True
        self.events.log("metering_paused", _SOURCE, 0)

    def resume_metering(self):
        """Metering again, rebuilt from the saved registers (the chip may have
        been reconfigured: it is checked and configured like at boot)."""
        self._rebuild_meter()
        self.metering.paused = False
        self.events.log("metering_resumed", _SOURCE, 0)

    def install_calibration(self, text):
        try:
            calibration.from_json(text, "calibration")
        except calibration.CalibrationError as e:
            return str(e)
        try:
            _write_atomic(self.cal_path, text)
        except OSError as e:
            return "calibration: could not store it (%s)" % e
        self.events.log("calibration_change", _SOURCE, 0)
        self._rebuild_meter()
        return None

    def _rebuild_meter(self):
        """Save, then let the metering service build the meter (and with it the
        tariff and the account) again from the record just written."""
        if self.metering.meter is not None and not self.metering.paused:
            self.save_now()
        try:
            p = self.store.load(persist.RECORD, persist.VERSION, None, self.clock.now_ms)
            self.saved = persist.decode(p) if p is not None else self.saved
        except (OSError, ValueError) as e:
            self.events.log("storage_fault", _SOURCE, _describe(e))
        self.metering.meter = None
        self.billing.tariff = None
        self.prepay = None
        self.tokens = None


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
