"""The technician port as a loop service: firmware/iec62056.py bound to the App.

`TechPortService(app, io)` is the service named "console" (app.py builds it
when the board has a port). poll(now_ms) is the protocol's non-blocking poll;
between passes the loop polls it again while a session is open (busy()), so a
readout or a bench session is not paced by the 500 ms pass. What the port
reports (a provider exception, a refused write, a failed P2) goes to the
event log, never to the line.

Registers: firmware/readout.py (AppProvider). This module adds the
manufacturer (bench) session, all writes authenticated by P2:
  C.60.0 (PAUSE|RESUME)  metering paused for register access; R1 PAUSED|RUNNING.
                         A session that ends (B0, timeout) resumes metering.
  C.60.1 (RESET)         ADE7753 software reset; R1 gives DIEREV (identify).
  C.63.A / C.64.A        chip register A (decimal address): R1 the driver's
                         read() / read_raw(), W1 (decimal) the driver's
                         read-back-checked write(). Only while paused.
  C.65.0 (BEGIN), C.65.1 (hex), C.65.2 (CRC-32)   calibration JSON upload:
                         App.install_calibration, metering rebuilt without a
                         reboot (at RESUME when paused).
`extra` (host simulator only) may serve more codes first: handles(code),
read(code), write(code, value) (e.g. the simulated bench's reference source).

Taking the port: micropython.kbd_intr(-1) while the application owns it
(byte 0x03 is ETX, not Ctrl-C); serialport.StdioPort does the same on the
device and gives it back in maintenance mode.
"""
import binascii
import os

import micropython

import board
import obis
from iec62056 import Iec62056Port
from readout import AppProvider

_CAL_MAX = 2048  # bytes of a calibration record (JSON, ~400 B)


class _BenchProvider:
    """Manufacturer codes in front of the AppProvider."""

    def __init__(self, app, inner, extra=None):
        self.app = app
        self.inner = inner
        self.extra = extra
        self.paused_here = False  # metering paused by this port's session
        self._chip = None
        self._cal = None  # bytearray while a calibration upload is open

    def readout_codes(self):
        return self.inner.readout_codes()

    def token(self, digits):
        return self.inner.token(digits)

    def chip(self):
        if self._chip is None:
            import ade7753

            spi, cs = self.app.hw.build_metering_bus()
            self._chip = ade7753.ADE7753(spi, cs, board.CLKIN_HZ)
        return self._chip

    def _register(self, code, prefix):
        """Address A of prefix + 'A', or -1."""
        a = code[len(prefix):]
        if not a.isdigit() or len(a) > 2:
            return -1
        a = int(a)
        return a if 1 <= a <= 0x3F else -1

    def read(self, code):
        x = self.extra
        if x is not None and x.handles(code):
            return x.read(code)
        app = self.app
        if code == obis.METERING_CONTROL:
            return ("PAUSED" if app.metering.paused else "RUNNING", None)
        for prefix in (obis.CHIP_REGISTER, obis.CHIP_REGISTER_RAW):
            if code.startswith(prefix):
                a = self._register(code, prefix)
                if a < 0 or not app.metering.paused:
                    return None  # register access only in a paused bench session
                c = self.chip()
                return (str(c.read(a) if prefix == obis.CHIP_REGISTER else c.read_raw(a)), None)
        if code == obis.CHIP_CONTROL:
            if not app.metering.paused:
                return None
            return (str(self.chip().identify()), None)
        return self.inner.read(code)

    def write(self, code, value):
        x = self.extra
        if x is not None and x.handles(code):
            return x.write(code, value)
        app = self.app
        if code == obis.METERING_CONTROL:
            if value == "PAUSE":
                if not app.metering.paused:
                    app.pause_metering()
                    self.paused_here = True
                return None
            if value == "RESUME":
                self.resume()
                return None
            return "metering: PAUSE or RESUME"
        if code == obis.CHIP_CONTROL or code.startswith(obis.CHIP_REGISTER):
            if not app.metering.paused:
                return "chip: pause metering first (C.60.0(PAUSE))"
            if code == obis.CHIP_CONTROL:
                if value != "RESET":
                    return "chip: write RESET"
                self.chip().software_reset()
                return None
            a = self._register(code, obis.CHIP_REGISTER)
            v = value[1:] if value[:1] == "-" else value
            if a < 0 or not v.isdigit() or len(v) > 9:
                return "chip: C.63.<address 1..63>(decimal value)"
            self.chip().write(a, int(value))  # ADE7753Error (read-back) -> NAK, logged
            return None
        if code == obis.CAL_UPLOAD_BEGIN:
            self._cal = bytearray()
            return None
        if code == obis.CAL_UPLOAD_CHUNK:
            return self._cal_chunk(value)
        if code == obis.CAL_UPLOAD_END:
            return self._cal_end(value)
        return self.inner.write(code, value)

    def _cal_chunk(self, value):
        if self._cal is None:
            return "calibration upload: no BEGIN"
        if len(value) % 2 or len(self._cal) + len(value) // 2 > _CAL_MAX:
            self._cal = None
            return "calibration upload: odd hex or more than %d bytes" % _CAL_MAX
        try:
            self._cal.extend(binascii.unhexlify(value))
        except ValueError:
            self._cal = None
            return "calibration upload: chunk is not hex"
        return None

    def _cal_end(self, value):
        data = self._cal
        self._cal = None
        if data is None:
            return "calibration upload: no BEGIN"
        if "%08x" % binascii.crc32(data) != value.lower():
            return "calibration upload: CRC-32 mismatch"
        try:
            text = bytes(data).decode()
        except UnicodeError:
            return "calibration upload: not text"
        why = self.app.install_calibration(text)
        if why is None:
            self._chip = None  # the meter builds its own driver again
        return why

    def open_upload(self):
        return self._cal is not None or self.inner.upload_open()

    def end_session(self):
        self._cal = None
        self.inner.end_session()
        if self.paused_here:
            self.resume()

    def resume(self):
        app = self.app
        if app.metering.paused:
            app.resume_metering()
        self.paused_here = False
        self._chip = None


class TechPortService:
    """The console in the loop: one Iec62056Port over the App's registers."""

    name = "console"

    def __init__(self, app, io, extra=None, random_bytes=None):
        micropython.kbd_intr(-1)  # 0x03 is ETX on this line, not Ctrl-C
        self.app = app
        app.out = self._say  # nothing but the protocol may reach the line
        key = app.management_key
        if key is None:
            # Not provisioned: a key nobody knows, so no write can authenticate.
            key = os.urandom(16)
            app.events.log("console_no_key", self.name, 0)
        self.provider = _BenchProvider(app, AppProvider(app), extra)
        self.port = Iec62056Port(io, self.provider, key, app.meter_number, random_bytes=random_bytes)
        self._err = None
        self._refusal = None
        self._fails = 0

    def _say(self, text):
        self.app.events.log("message", self.name, text)

    def busy(self):
        return self.port.busy()

    def poll(self, now_ms):
        port = self.port
        port.poll(now_ms)
        if port.last_error is not self._err:
            self._err = port.last_error
            self.app.events.log("console_error", self.name, self._err)
        if port.last_refusal is not self._refusal:
            self._refusal = port.last_refusal
            self.app.events.log("console_refused", self.name, self._refusal)
        if port.auth_failures != self._fails:
            if port.auth_failures > self._fails:
                self.app.events.log("auth_failed", self.name, port.auth_failures)
            self._fails = port.auth_failures
        p = self.provider
        if (p.paused_here or p.open_upload()) and not port.busy():
            p.end_session()  # never leave the meter paused, nor half an upload in RAM
        if p.inner.maintenance_due and not port.sending():
            p.inner.maintenance_due = False
            self.app.request_maintenance()  # the ACK is out: save, flag, reset
