"""The simulated meter's technician port: the REAL firmware application
(firmware/app.py, its loop, its console service firmware/techport.py) on a
simulated board, with the port on a pseudo-terminal (meter on the master side,
raw mode) or on TCP 127.0.0.1, in real or scaled virtual time.

`python -m host_sim console [--pty] [--tcp PORT]` prints the pty path (or the TCP
address) on its first line, then serves until interrupted or --seconds pass.
The device's files (calibration, tariff, prepay, meter number and key) are
made in a folder (--files, default a temporary one) unless already there; the
board runs a steady load (--load-w, --pf). The loop passes every 500 ms of
virtual time; between passes the console is polled while a session is open,
as App.run does on the device (there every 20 ms, here every 250 ms).

Bench session: the simulator's reference source is the extra code C.99.9,
W1 (V;I;phi_deg;f) (authenticated, like every write): while it is set, the board
runs that source instead of the load, so host_sim.calibrate drives this board
through the port (tools/meterctl.py calibrate, PortBench).
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import socket
import tempfile
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import app as fw_app
import board as fw_board
import hardware as fw_hardware
import machine  # the host fake

from .frontend import BOARDS_DIR, load_board
from .loadboard import LoadBoard

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


TARIFF = {  # a time-of-use tariff with steps, so every register of the readout moves
    "currency": "CNY",
    "rates": {"1": "0.9000", "2": "0.6000", "3": "0.4000", "4": "0.3000"},
    "days": {"all": [["00:00", 3], ["08:00", 2], ["18:00", 1], ["22:00", 3]]},
    "weeks": {"std": ["all"] * 7},
    "seasons": [["01-01", "std"]],
}
DECODER_KEY_HEX = "6ff35b9d1f3453e6"  # the simulated meter's STS decoder key (tools.sts --key)
PREPAY = {"balance": "100.0000", "decoder_key": DECODER_KEY_HEX, "alarm1": "5.0000", "alarm2": "2.0000",
          "reconnect": "auto"}
BENCH_SOURCE = "C.99.9"  # simulator only: W1 (V;I;phi_deg;f) the reference source, (OFF) the load again
# simulator only: R1 the board's virtual time in ms, so a bench waits for simulated
# seconds, not wall seconds (the simulator can lag the wall clock on a busy machine)
BENCH_CLOCK = "C.99.7"


# While a session is open the console is polled between passes (20 ms on the
# device); here every 250 ms of board time: LoadBoard's closed-form steps
# settle the rms registers only over steps of 200 ms or more (measured: 20 ms
# steps read 687 000 LSB of VRMS at 44 V and at 220 V alike). Fixed steps keep
# the simulated physics independent of wall-clock timing (a calibration through
# the pty gives the same registers every run); the price: rms registers are
# read at one phase of their 100 Hz ripple (chip model), up to 0.3 % off,
# where a real meter, whose clock is not locked to the mains, averages it out.
_BUSY_STEP_MS = 250


class ConsoleError(ValueError):
    """Bad simulator settings: one line, what and why."""


class SimBenchSource:
    """The bench's reference source on the simulated board: TechPortService's
    `extra` codes. Writes arrive only in an authenticated session."""

    def __init__(self, clock_ms: Callable[[], int] = lambda: 0) -> None:
        self.source: tuple[float, float, float, float] | None = None
        self.clock_ms = clock_ms

    def handles(self, code: str) -> bool:
        return code in (BENCH_SOURCE, BENCH_CLOCK)

    def read(self, code: str) -> tuple[str, str | None]:
        if code == BENCH_CLOCK:
            return (str(self.clock_ms()), "ms")
        if self.source is None:
            return ("OFF", None)
        return (";".join(f"{x:g}" for x in self.source), None)

    def write(self, code: str, value: str) -> str | None:
        if code == BENCH_CLOCK:
            return "bench clock: read only"
        if value == "OFF":
            self.source = None
            return None
        try:
            v, i, phi, f = (float(x) for x in value.split(";"))
        except ValueError:
            return "bench source: V;I;phi_deg;f_hz or OFF"
        if not (0 <= v <= 400 and 0 <= i <= 200 and -90 <= phi <= 90 and 40 <= f <= 70):
            return "bench source: 0..400 V, 0..200 A, -90..90 deg, 40..70 Hz"
        self.source = (v, i, phi, f)
        return None


@dataclass
class Settings:
    files: Path | None = None  # the device's filesystem (default: a temporary folder)
    board: Path | None = None  # board JSON (default host_sim/boards/default.json)
    calibration: Path | None = None  # initial calibration (default: the board's .cal.json)
    meter_number: str = DEFAULT_METER
    key_hex: str = DEFAULT_KEY_HEX
    load_w: float = 2200.0
    pf: float = 1.0
    prepaid: bool = True
    start: tuple[int, ...] | None = None  # RTC (y, m, d, wd, h, mi, s, us); default: now, local


class SimConsoleMeter:
    """The firmware application on a LoadBoard, its console on `line`."""

    def __init__(self, line, s: Settings) -> None:
        if not (s.meter_number.isdigit() and 1 <= len(s.meter_number) <= 16):
            raise ConsoleError(f"meter number {s.meter_number!r}: 1..16 digits")
        try:
            key = bytes.fromhex(s.key_hex)
        except ValueError:
            raise ConsoleError(f"management key {s.key_hex!r}: not hex") from None
        if len(key) not in (16, 32):
            raise ConsoleError(f"management key: {len(key)} bytes, the meter takes 16 or 32")
        if not -1.0 <= s.pf <= 1.0 or s.load_w < 0:
            raise ConsoleError(f"load {s.load_w} W at PF {s.pf}: W >= 0, PF -1..1")
        board_path = s.board or BOARDS_DIR / "default.json"
        cal_path = s.calibration or board_path.with_suffix(".cal.json")
        if not cal_path.exists():
            raise ConsoleError(f"{cal_path}: no such calibration file (give --calibration)")
        self._tmp = None
        if s.files is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="meter-")
            s.files = Path(self._tmp.name)
        self.files = s.files
        self.files.mkdir(parents=True, exist_ok=True)
        self._init_files(s, cal_path, key)
        self.settings = s
        self.line = line
        self.board = LoadBoard(load_board(board_path))
        t = time.localtime()
        self.board.rtc.set(s.start or (t.tm_year, t.tm_mon, t.tm_mday, t.tm_wday, t.tm_hour, t.tm_min, t.tm_sec, 0))
        self.bench = SimBenchSource(lambda: self.virtual_ms)
        self.virtual_ms = 0
        self.maintenance: str | None = None  # why the meter left its loop
        self.boots = 0
        self.app = self._boot(machine.PWRON_RESET)

    def _init_files(self, s: Settings, cal_path: Path, key: bytes) -> None:
        f = self.files
        if not (f / fw_board.CALIBRATION_FILE).exists():
            shutil.copy(cal_path, f / fw_board.CALIBRATION_FILE)
        if not (f / "tariff.json").exists():
            (f / "tariff.json").write_text(json.dumps(TARIFF))
        if s.prepaid and not (f / "prepay.json").exists():
            (f / "prepay.json").write_text(json.dumps(PREPAY))
        (f / fw_app.METER_FILE).write_text(json.dumps({"meter_number": s.meter_number,
                                                       "management_key": key.hex()}))

    # --- the device -----------------------------------------------------------
    @contextlib.contextmanager
    def _cwd(self) -> Iterator[None]:
        """Firmware calls run with the device's files as the working folder."""
        old = os.getcwd()
        os.chdir(self.files)
        try:
            yield
        finally:
            os.chdir(old)

    def _boot(self, cause: int) -> fw_app.App:
        machine.attach_board(self.board)
        machine.set_reset_cause(cause)
        machine.WDT.last = None
        hw = fw_hardware.Hardware(ticks_ms=self.board.ticks_ms, sleep_ms=self._sleep_ms, console=self.line)
        with self._cwd():
            a = fw_app.App(hw)
            why = a.maintenance_requested()
            if why is not None:
                self.maintenance = why
                return a
            a.boot()
            if a.console is not None:
                a.console.provider.extra = self.bench
        self.boots += 1
        return a

    def _sleep_ms(self, ms: int) -> None:
        self._advance(ms)

    def _advance(self, ms: int) -> None:
        """The analog side for ms: the bench source when set, else the load."""
        b = self.board
        src = self.bench.source
        sec = ms / 1000.0
        if src is not None:
            v, i, phi, f = src
            pf = math.cos(math.radians(phi))
            # calibration reads the rms registers: LoadBoard's shortcut would
            # leave them at one reading, so the DSP runs every step
            b.shortcut = False
            b.run_load(sec, v, v * i * pf, pf if phi >= 0 else -pf, f)
        else:
            brd = b.board
            b.shortcut = True
            b.run_load(sec, brd.un_v, self.settings.load_w, self.settings.pf or 1.0, brd.fn_hz)
        self.virtual_ms += ms

    def busy(self) -> bool:
        c = self.app.console
        return c is not None and c.busy()

    def run_to(self, target_ms: int) -> None:
        """Run the device up to virtual time target_ms: a pass every TICK_MS,
        the console every 20 ms between passes while a session is open."""
        while self.maintenance is None:
            try:
                with self._cwd():
                    self._run_some(target_ms)
                return
            except machine.DeviceReset as r:
                self.app = self._boot(r.cause)

    def _run_some(self, target_ms: int) -> None:
        a = self.app
        tick = fw_board.TICK_MS
        while True:
            # whole steps only (to the next pass, or _BUSY_STEP_MS in a session):
            # the board model wants them long, the rest waits for the next call
            step = tick - self.virtual_ms % tick
            busy = a.console is not None and a.console.busy()
            if busy:
                step = min(step, _BUSY_STEP_MS)
            if self.virtual_ms + step > target_ms:
                return
            self._advance(step)
            wdt = machine.WDT.last
            if wdt is not None:
                wdt.check(self.board.time_ms)
            if self.virtual_ms % tick == 0:
                a.step()
            elif busy:
                a._poll_console(self.board.ticks_ms())

    def handshake(self) -> bool:
        """Sign-on in progress (identification, option select, the pause after it)."""
        c = self.app.console
        return c is not None and c.port.state_name() in ("ident", "wait_ack", "pause")

    def serve(self, seconds: float | None = None, speed: float = 1.0, should_stop=lambda: False) -> None:
        """Real time x speed until `seconds` pass, should_stop(), or maintenance mode.
        The sign-on handshake always runs at real time: a client closes and
        reopens its port after the ACK (pyserial flushes on open), which takes
        real time the meter's ~1 s pause must cover."""
        if speed <= 0:
            raise ConsoleError(f"speed {speed}: must be above 0")
        t0 = last = time.monotonic()
        target = float(self.virtual_ms)
        while not should_stop() and self.maintenance is None:
            now = time.monotonic()
            if seconds is not None and now - t0 >= seconds:
                return
            target += (now - last) * 1000 * (1.0 if self.handshake() else speed)
            last = now
            self.run_to(int(target))
            time.sleep(0.001 if self.busy() else 0.01)

    def close(self) -> None:
        machine.attach_board(None)
        if self._tmp is not None:
            self._tmp.cleanup()


def run_cli(a) -> int:
    """`python -m host_sim console` (arguments from host_sim/__main__.py)."""
    s = Settings(files=Path(a.files) if a.files else None, board=Path(a.board) if a.board else None,
                 calibration=Path(a.calibration) if a.calibration else None,
                 meter_number=a.meter, key_hex=a.key_hex, load_w=a.load_w, pf=a.pf, prepaid=not a.postpaid)
    line = TcpLine(a.tcp) if a.tcp is not None else PtyLine()
    where = f"tcp {line.address[0]}:{line.address[1]}" if isinstance(line, TcpLine) else line.path
    try:
        meter = SimConsoleMeter(line, s)
    except ConsoleError:
        line.close()
        raise
    print(where, flush=True)  # first line: where to connect
    try:
        meter.serve(a.seconds, a.speed)
        if meter.maintenance is not None:
            print(f"maintenance mode ({meter.maintenance}): the simulated meter left its loop", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        meter.close()
        line.close()
    return 0
