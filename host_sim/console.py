"""The simulated meter's technician port: firmware/iec62056.py on a pseudo-terminal
(meter on the master side, raw mode) or on TCP 127.0.0.1, in real or scaled time.

`python -m host_sim console [--pty] [--tcp PORT]` prints the pty path (or the TCP
address) on its first line, then serves until interrupted or --seconds pass.
Until the application's register provider lands, the registers behind the port
are `SimMeterProvider`: energy, voltage, current, power, PF and frequency come
from the firmware's Meter metering a steady load on a simulated board; every
other code is a PLACEHOLDER (`PlaceholderProvider`: fixed sample values, a live
clock, writes kept in memory, tokens 'accepted' once). `--placeholder` drops the
simulated board (fixed values only).
"""
from __future__ import annotations

import binascii
import errno
import os
import socket
import time
import tty
from dataclasses import dataclass, field

import obis
from iec62056 import Iec62056Port

TICKS_MASK = (1 << 30) - 1
DEFAULT_KEY_HEX = "00112233445566778899aabbccddeeff"  # the simulator's management key
DEFAULT_METER = "12345678"


class PtyLine:
    """io for Iec62056Port on the master side of a pty. The slave stays open here
    too, so a client that closes and reopens it (pyserial does at the baud
    switch) never leaves the master reading EIO; it is set raw until a client
    sets its own mode."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.bauds: list[int] = []

    def read_into(self, buf: bytearray) -> int:
        try:
            data = os.read(self.master, len(buf))
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno == errno.EIO:
                return 0
            raise
        buf[: len(data)] = data
        return len(data)

    def write(self, buf: bytearray, off: int, n: int) -> int:
        try:
            return os.write(self.master, memoryview(buf)[off:off + n])
        except BlockingIOError:
            return 0

    def set_baud(self, baud: int) -> None:
        self.bauds.append(baud)  # a pty has no line rate; recorded for tests

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


class TcpLine:
    """io on a TCP port of 127.0.0.1, one client at a time."""

    def __init__(self, port: int) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port))
        self._server.listen(1)
        self._server.setblocking(False)
        self.address = self._server.getsockname()
        self._conn: socket.socket | None = None
        self.bauds: list[int] = []

    def _client(self) -> socket.socket | None:
        if self._conn is None:
            try:
                self._conn, _ = self._server.accept()
                self._conn.setblocking(False)
            except BlockingIOError:
                return None
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def read_into(self, buf: bytearray) -> int:
        c = self._client()
        if c is None:
            return 0
        try:
            n = c.recv_into(buf)
        except BlockingIOError:
            return 0
        except OSError:
            n = 0
        if n == 0:
            self._drop()  # the client went away
        return n

    def write(self, buf: bytearray, off: int, n: int) -> int:
        c = self._client()
        if c is None:
            return n  # nobody listening: the bytes are lost, as on a wire
        try:
            return c.send(memoryview(buf)[off:off + n])
        except BlockingIOError:
            return 0
        except OSError:
            self._drop()
            return n

    def set_baud(self, baud: int) -> None:
        self.bauds.append(baud)

    def close(self) -> None:
        self._drop()
        self._server.close()


@dataclass
class PlaceholderProvider:
    """PLACEHOLDER registers until the application's provider exists: sample
    values for every code of the spec's table, the host clock, in-memory writes."""

    meter_number: str = DEFAULT_METER
    values: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)
    used_tokens: set[str] = field(default_factory=set)
    tariff_hex: str = ""
    passive_tariff: bytes | None = None

    def __post_init__(self) -> None:
        v = self.values
        v[obis.METER_NUMBER] = (self.meter_number, None)
        v[obis.SERIAL_NUMBER] = ("PPM1-" + self.meter_number, None)
        v[obis.IMPORT_TOTAL] = ("001234.567", "kWh")
        for i, code in enumerate(obis.IMPORT_RATE):
            v[code] = (("000800.000", "000400.000", "000034.567", "000000.000")[i], "kWh")
        v[obis.EXPORT_TOTAL] = ("000001.250", "kWh")
        v[obis.POWER_IMPORT] = ("02.200", "kW")
        v[obis.POWER_SIGNED] = ("02.200", "kW")
        v[obis.VOLTAGE] = ("230.1", "V")
        v[obis.CURRENT] = ("9.56", "A")
        v[obis.FREQUENCY] = ("50.00", "Hz")
        v[obis.POWER_FACTOR] = ("1.00", None)
        v[obis.CURRENT_RATE] = ("2", None)
        v[obis.RELAY_STATE] = ("CONNECTED", None)
        v[obis.REMAINING_CREDIT] = ("00123.45", "kWh")
        v[obis.ERROR_REGISTER] = ("00000000", None)
        v[obis.STEP_CONSUMPTION] = ("000123.456", "kWh")
        v[obis.TARIFF_TIER] = ("2", None)
        v[obis.PRICE] = ("0.2500", None)
        v[obis.EMERGENCY_DEBT] = ("0.00", None)
        v[obis.BALANCE_STATE] = ("OK", None)
        v[obis.TOKEN_GATEWAY] = ("NONE", None)
        v["1.8.0*01"] = ("001200.000", "kWh")
        v["1.8.0*02"] = ("001100.000", "kWh")
        v[obis.EVENT_PREFIX + "0"] = ("26-12-01 08:00:00 POWER_UP", None)
        v[obis.EVENT_PREFIX + "1"] = ("26-11-30 23:59:00 FREEZE", None)

    def readout_codes(self) -> tuple[str, ...]:
        return obis.STANDARD_READOUT + (obis.STEP_CONSUMPTION, obis.TARIFF_TIER, obis.PRICE,
                                        obis.EMERGENCY_DEBT, obis.BALANCE_STATE, "1.8.0*01", "1.8.0*02")

    def read(self, code: str) -> tuple[str, str | None] | None:
        t = time.localtime()
        if code == obis.LOCAL_TIME:
            return (time.strftime("%H:%M:%S", t), None)
        if code == obis.LOCAL_DATE:
            return (time.strftime("%y-%m-%d", t), None)
        return self.values.get(code)

    def write(self, code: str, value: str) -> str | None:
        if code == obis.RELAY_COMMAND:
            if value not in ("CONNECT", "DISCONNECT"):
                return "relay command is CONNECT or DISCONNECT"
            self.values[obis.RELAY_STATE] = (value + "ED", None)
        elif code == obis.TARIFF_UPLOAD_BEGIN:
            self.tariff_hex = ""
        elif code == obis.TARIFF_UPLOAD_CHUNK:
            try:
                binascii.unhexlify(value)
            except (binascii.Error, ValueError):
                return "chunk is not hex"
            self.tariff_hex += value
        elif code == obis.TARIFF_UPLOAD_END:
            data = binascii.unhexlify(self.tariff_hex)
            if "%08x" % binascii.crc32(data) != value.lower():
                return "tariff CRC-32 mismatch"
            self.passive_tariff = data
        elif code in (obis.CLOCK_SET, obis.PREPAY_THRESHOLDS, obis.GUARANTEED_SUPPLY, obis.FREEZE_NOW,
                      obis.MAINTENANCE):
            pass
        else:
            return "not writable"
        self.writes.append((code, value))
        return None

    def token(self, digits: str) -> str:
        result = "USED" if digits in self.used_tokens else "ACCEPT"
        self.used_tokens.add(digits)
        self.values[obis.TOKEN_GATEWAY] = (result, None)
        return result


class SimulatedMeter:
    """The firmware's Meter on a simulated board with a steady sinusoidal load,
    metering as virtual time advances (host_sim.replay's set-up, open-ended)."""

    FS_HZ = 8000.0

    def __init__(self, load_w: float, pf: float = 1.0, board_path: str | None = None) -> None:
        import math

        import board as fw_board
        from meter import Meter

        from .replay import resolve_board
        from .simboard import SimBoard

        board, cal = resolve_board(board_path, None)
        self.sim = SimBoard(board)
        self.meter = Meter(self.sim.model.spi, self.sim.model.cs, cal, int(board.clkin_hz),
                           ib_ma=int(round(board.ib_a * 1000)), un_mv=int(round(board.un_v * 1000)))
        if not self.meter.start(self.sim.ticks_ms()):
            raise RuntimeError(f"simulated ADE7753 did not start: {self.meter.events.newest()}")
        self.tick_ms = fw_board.TICK_MS
        self.un_v, self.fn_hz = board.un_v, board.fn_hz
        self.i_a = load_w / (board.un_v * pf) if pf else 0.0
        self.phi = math.acos(max(-1.0, min(1.0, pf)))
        self._t_s = 0.0
        self.virtual_ms = 0

    def advance_to(self, virtual_ms: int) -> None:
        """Feed the load and tick the meter every TICK_MS up to virtual_ms."""
        import numpy as np

        while self.virtual_ms + self.tick_ms <= virtual_ms:
            n = int(self.FS_HZ * self.tick_ms / 1000)
            t = self._t_s + np.arange(n) / self.FS_HZ
            w = 2 * np.pi * self.fn_hz * t
            self.sim.feed(self.un_v * np.sqrt(2) * np.sin(w), self.i_a * np.sqrt(2) * np.sin(w - self.phi),
                          self.FS_HZ)
            self._t_s += n / self.FS_HZ
            self.virtual_ms += self.tick_ms
            self.meter.tick(self.sim.ticks_ms())


@dataclass
class SimMeterProvider(PlaceholderProvider):
    """Metrology codes (energy, V, I, P, PF, f) from a SimulatedMeter; the rest
    (tariff, prepay, billing) still PLACEHOLDER values until those land."""

    sim: SimulatedMeter | None = None

    def read(self, code: str) -> tuple[str, str | None] | None:
        if self.sim is not None:
            m = self.sim.meter.metrology
            if code == obis.IMPORT_TOTAL:
                return (m.energy_import.kwh_text(), "kWh")
            if code == obis.EXPORT_TOTAL:
                return (m.energy_export.kwh_text(), "kWh")
            if code == obis.VOLTAGE:
                return ("%.1f" % m.vrms_v(), "V")
            if code == obis.CURRENT:
                return ("%.3f" % m.irms_a(), "A")
            if code == obis.POWER_IMPORT:
                return ("%.3f" % max(0.0, m.power_w() / 1000), "kW")
            if code == obis.POWER_SIGNED:
                return ("%.3f" % (m.power_w() / 1000), "kW")
            if code == obis.POWER_FACTOR:
                return ("%.2f" % m.power_factor(), None)
            if code == obis.FREQUENCY:
                return ("%.2f" % m.frequency_hz(), "Hz")
        return super().read(code)


def serve(port: Iec62056Port, seconds: float | None = None, speed: float = 1.0,
          should_stop=lambda: False, sim: SimulatedMeter | None = None) -> None:
    """Poll the port like the meter loop: every 20 ms, every 5 ms while a session
    is open. The port's clock runs `speed` times real time (1: real time); a
    simulated meter meters on the same virtual clock."""
    t0 = time.monotonic()
    while not should_stop():
        elapsed = time.monotonic() - t0
        if seconds is not None and elapsed >= seconds:
            return
        virtual_ms = int(elapsed * 1000 * speed)
        if sim is not None:
            sim.advance_to(virtual_ms)
        port.poll(virtual_ms & TICKS_MASK)
        time.sleep(0.005 if port.busy() else 0.02)
