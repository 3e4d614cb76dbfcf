"""meterctl: the technician's command line for the meter's IEC 62056-21 port.

    python -m tools.meterctl --port PATH read | get CODE | token DIGITS | set-clock [TIME]
                              | events | freezes | tariff-upload FILE | calibrate --board FILE

PATH is a serial device (/dev/ttyUSB0, a pty from `python -m host_sim console`) or a
pyserial URL (socket://127.0.0.1:PORT for `console --tcp PORT`). Reading needs no
key; writes (set-clock, tariff-upload) authenticate with the per-meter management
key from --key-file (hex) or the METER_KEY environment variable (hex): the meter
sends a challenge, this tool answers HMAC-SHA-256(key, challenge) truncated to 16
hex digits; the key itself never crosses the line.

calibrate: the datasheet procedure of host_sim/calibrate.py run on the meter's own
ADE7753 through the port (`PortBench`): an authenticated session pauses metering,
the procedure reads and writes chip registers with R1/W1, the record is uploaded
(CRC-32 checked) and takes effect when metering resumes, without a reboot. The
reference source is the simulator's (`--source sim`, code C.99.9 of `host_sim
console`) or a person at a real bench (`--source manual`: set it, press Enter).

Exit status: 0 done; 1 the meter answered and refused (NAK to a write, wrong key,
locked out, unknown code, token not accepted); 2 we could not talk to it (bad
arguments, no key, port will not open, no answer, BCC wrong, garbled answer).
Errors are one line on stderr.
"""
from __future__ import annotations

import argparse
import binascii
import hashlib
import hmac
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import cast
from pathlib import Path

import serial

SOH, STX, ETX, EOT, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x04", b"\x06", b"\x15"
BAUDS = {ord("0") + i: b for i, b in enumerate((300, 600, 1200, 2400, 4800, 9600, 19200))}
TOKEN_GATEWAY = "0-0:19.40.0"
CLOCK_SET = "0-0:1.0.0"
LOCKOUT_S, AUTH_FAILURES = "C.90.0", "C.90.1"
EVENT_PREFIX = "C.98."
TARIFF_BEGIN, TARIFF_CHUNK, TARIFF_END = "C.61.0", "C.61.1", "C.61.2"
TARIFF_CHUNK_BYTES = 48  # 96 hex digits per W1
FREEZE_PREFIX = "C.96."
FREEZE_KINDS = ("daily", "billing", "settlement", "tariff_switch", "instant")
METERING_CONTROL, CHIP_CONTROL, CHIP_REGISTER, CHIP_REGISTER_RAW = "C.60.0", "C.60.1", "C.63.", "C.64."
CAL_BEGIN, CAL_CHUNK, CAL_END = "C.65.0", "C.65.1", "C.65.2"
BENCH_SOURCE = "C.99.9"  # host_sim console only: the simulated reference source
BENCH_CLOCK = "C.99.7"  # host_sim console only: the simulated board's time, ms
TOKEN_ACCEPTED = ("accepted", "kc1_accepted", "kc2_accepted")
REPLY_HEX = 16
MEANINGS = {
    "0.0.0": "meter number", "C.1.0": "serial number", "0.9.1": "time", "0.9.2": "date",
    "1.8.0": "import total", "1.8.1": "import rate 1", "1.8.2": "import rate 2", "1.8.3": "import rate 3",
    "1.8.4": "import rate 4", "2.8.0": "export total", "1.7.0": "power import", "16.7.0": "power signed",
    "32.7.0": "voltage", "31.7.0": "current", "14.7.0": "frequency", "13.7.0": "power factor",
    "0-0:96.14.0": "current rate", "0-0:96.3.10": "relay state", "0-0:19.10.0": "remaining credit",
    "F.F": "error register", "C.50.0": "step-period consumption", "C.51.0": "tier", "C.52.0": "price",
    "C.53.0": "emergency debt", "C.54.0": "balance state", "0-0:19.40.0": "last token result",
    "C.90.0": "auth lockout left", "C.90.1": "auth failures", "C.60.0": "metering (bench session)",
}
DATA_SET = re.compile(r"([^()]*)\(([^()]*)\)")


class MeterError(Exception):
    """One-line error; exit_status 1 = the meter refused, 2 = could not talk."""

    exit_status = 2


class Refused(MeterError):
    exit_status = 1


def bcc(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x & 0x7F


@dataclass
class DataSet:
    code: str
    value: str
    unit: str | None

    def as_json(self) -> dict:
        return {"code": self.code, "value": self.value, "unit": self.unit, "meaning": _meaning(self.code) or None}


def parse_data_sets(text: str) -> list[DataSet]:
    out = []
    for code, inner in DATA_SET.findall(text):
        value, _, unit = inner.partition("*")
        out.append(DataSet(code.strip(), value, unit or None))
    return out


class MeterLink:
    """Mode C client over pyserial (7E1 at 300 Bd, then the meter's rate)."""

    def __init__(self, port: str, address: str = "", timeout_s: float = 3.0) -> None:
        self.port_name = port
        self.address = address
        self.timeout_s = timeout_s
        self.ser = self._open(300)
        self.wait_s = timeout_s  # how long the next read may wait
        self.ident = ""
        self.challenge = ""
        self.in_programming = False

    def _open(self, baud: int) -> serial.Serial:
        # Reads poll with a short timeout against our own deadline: changing the
        # settings of an open pty fails (EINVAL), so a new rate means a new open.
        try:
            return serial.serial_for_url(self.port_name, baudrate=baud, bytesize=7, parity="E", stopbits=1,
                                         timeout=0.05)
        except (serial.SerialException, ValueError) as e:
            raise MeterError(f"{self.port_name}: cannot open: {e}") from None

    def close(self) -> None:
        if self.in_programming:
            try:
                self._send(SOH + b"B0" + ETX + bytes([bcc(b"B0" + ETX)]))
            except MeterError:
                pass
        self.ser.close()

    # --- bytes -----------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        try:
            self.ser.write(data)
            self.ser.flush()
        except serial.SerialException as e:
            raise MeterError(f"{self.port_name}: write failed: {e}") from None

    def _read_until(self, end: bytes, what: str, limit: int = 1 << 16, count: int = 0) -> bytes:
        """Bytes up to and including `end` (or `count` bytes); fails after wait_s
        of silence."""
        deadline = time.monotonic() + self.wait_s
        data = b""
        while not (data.endswith(end) if not count else len(data) >= count):
            if time.monotonic() > deadline or len(data) > limit:
                raise MeterError(f"{self.port_name}: no answer ({what}) within {self.wait_s:g} s")
            try:
                b = self.ser.read(1)
            except serial.SerialException as e:
                raise MeterError(f"{self.port_name}: read failed: {e}") from None
            if b:
                data += b
                deadline = time.monotonic() + self.wait_s
        return data

    def _read(self, n: int, what: str) -> bytes:
        return self._read_until(b"", what, count=n)

    # --- session -----------------------------------------------------------------
    def sign_on(self, mode: str) -> None:
        """mode '0': data readout follows; '1': programming mode (reads P0)."""
        self.ser.reset_input_buffer()
        self._send(b"/?" + self.address.encode() + b"!\r\n")
        line = self._read_until(b"\n", "identification")
        start = line.rfind(b"/")
        if start < 0 or len(line) - start < 7 or line[start + 4] not in BAUDS:
            raise MeterError(f"{self.port_name}: garbled identification {line!r}")
        line = line[start:]
        self.ident = line[1:-2].decode("ascii", "replace")
        z = line[4]
        self._send(ACK + b"0" + bytes([z]) + mode.encode() + b"\r\n")
        time.sleep(0.3)  # the ACK leaves at the old rate
        self.ser.close()
        self.ser = self._open(BAUDS[z])  # within the meter's ~1 s pause
        self.wait_s = self.timeout_s + 1.5
        if mode == "1":
            frame = self._read_block("password operand (P0)")
            if not frame.startswith(SOH + b"P0" + STX):
                raise MeterError(f"{self.port_name}: expected P0, got {frame!r}")
            self.challenge = frame[5:-3].decode("ascii", "replace")
            self.in_programming = True
            self.wait_s = self.timeout_s

    def _read_block(self, what: str) -> bytes:
        """SOH/STX ... ETX BCC, BCC checked."""
        first = self._read(1, what)
        while first not in (SOH, STX):
            first = self._read(1, what)
        body = self._read_until(ETX, what)
        got = self._read(1, what + ", BCC")[0]
        if got != bcc(body):
            raise MeterError(f"{self.port_name}: BCC wrong in {what}: got {got:#04x}, computed {bcc(body):#04x}")
        return first + body + bytes([got])

    def _answer(self, what: str) -> bytes:
        """ACK, NAK, or a block."""
        first = self._read(1, what)
        if first in (ACK, NAK):
            return first
        if first not in (SOH, STX):
            raise MeterError(f"{self.port_name}: garbled answer to {what}: {first!r}")
        body = self._read_until(ETX, what)
        got = self._read(1, what + ", BCC")[0]
        if got != bcc(body):
            raise MeterError(f"{self.port_name}: BCC wrong in answer to {what}")
        return first + body + bytes([got])

    def _command(self, cmd: str, data: str | None) -> None:
        body = cmd.encode() + ((STX + data.encode("ascii")) if data is not None else b"") + ETX
        self._send(SOH + body + bytes([bcc(body)]))

    def readout(self) -> list[DataSet]:
        self.sign_on("0")
        self.wait_s = self.timeout_s + 1.5  # the meter pauses ~1 s after the ACK
        block = self._read_block("data readout")
        self.wait_s = self.timeout_s
        text = block[1:-2].decode("ascii", "replace")
        if not text.rstrip().endswith("!"):
            raise MeterError(f"{self.port_name}: data readout without its end line")
        return parse_data_sets(text)

    def get(self, code: str) -> DataSet | None:
        """R1; None when the meter does not know the code."""
        self._command("R1", code + "()")
        ans = self._answer(f"R1 {code}")
        if ans == NAK:
            raise Refused(f"meter refused R1 {code} (NAK)")
        if ans == ACK:
            raise MeterError(f"{self.port_name}: ACK without data to R1 {code}")
        sets = parse_data_sets(ans[1:-2].decode("ascii", "replace"))
        if not sets or not sets[0].code:
            return None
        return sets[0]

    def authenticate(self, key: bytes) -> None:
        left = self.get(LOCKOUT_S)
        if left is not None and left.value not in ("0", ""):
            fails = self.get(AUTH_FAILURES)
            raise Refused(f"meter is locked out for {left.value} s after {fails.value if fails else '?'} "
                          "failed authentications; try again later")
        reply = hmac.new(key, self.challenge.encode(), hashlib.sha256).hexdigest()[:REPLY_HEX]
        self._command("P2", "(" + reply + ")")
        if self._answer("P2") != ACK:
            left = self.get(LOCKOUT_S)
            raise Refused(f"meter refused the key (P2 NAK): wrong key for this meter; "
                          f"locked out for {left.value if left else '?'} s")

    def write(self, code: str, value: str) -> None:
        self._command("W1", f"{code}({value})")
        ans = self._answer(f"W1 {code}")
        if ans != ACK:
            raise Refused(f"meter refused W1 {code}({value}) (NAK)")

    def upload(self, begin: str, chunk: str, end: str, data: bytes, first: str = "BEGIN") -> str:
        """BEGIN, 48-byte hex chunks, CRC-32 (the meter checks it); returns the CRC."""
        self.write(begin, first)
        for i in range(0, len(data), TARIFF_CHUNK_BYTES):
            self.write(chunk, data[i:i + TARIFF_CHUNK_BYTES].hex())
        crc = "%08x" % binascii.crc32(data)
        self.write(end, crc)
        return crc

    def token(self, digits: str) -> str:
        self._command("W1", f"{TOKEN_GATEWAY}({digits})")
        ans = self._answer("token")
        if ans in (ACK, NAK):
            raise MeterError(f"{self.port_name}: token answer without a result ({ans!r})")
        sets = parse_data_sets(ans[1:-2].decode("ascii", "replace"))
        if not sets:
            raise MeterError(f"{self.port_name}: garbled token answer {ans!r}")
        return sets[0].value


def load_key(key_file: str | None) -> bytes:
    if key_file:
        try:
            text = Path(key_file).read_text().strip()
        except OSError as e:
            raise MeterError(f"{key_file}: cannot read the key file: {e.strerror}") from None
        where = key_file
    elif os.environ.get("METER_KEY"):
        text, where = os.environ["METER_KEY"].strip(), "METER_KEY"
    else:
        raise MeterError("this command writes: give the management key with --key-file FILE or METER_KEY (hex)")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise MeterError(f"{where}: the key must be hex digits") from None
    if len(key) < 16:
        raise MeterError(f"{where}: the key is {len(key)} bytes, the meter's is at least 16")
    return key


def _meaning(code: str) -> str:
    base, star, back = code.partition("*")
    if star:
        return f"{MEANINGS.get(base, base)}, freeze {back} back"
    if code.startswith(EVENT_PREFIX):
        return "event " + code[len(EVENT_PREFIX):] + " back"
    if code.startswith(FREEZE_PREFIX):
        k = code[len(FREEZE_PREFIX):]
        return f"{FREEZE_KINDS[int(k)]} freezes held" if k.isdigit() and int(k) < len(FREEZE_KINDS) else ""
    return MEANINGS.get(code, "")


def _row(d: DataSet) -> str:
    meaning = _meaning(d.code)
    return f"{d.code:14s} {d.value:>20s} {d.unit or '':4s} {meaning}".rstrip()


def run(a: argparse.Namespace) -> tuple[object, list[str]]:
    """Do the command; returns (JSON result, human lines)."""
    key = load_key(a.key_file) if a.cmd in ("set-clock", "tariff-upload", "calibrate") else None
    if a.cmd == "calibrate":
        _check_calibrate_args(a)
    if a.cmd == "token" and not re.fullmatch(r"\d{20}", a.digits):
        raise MeterError(f"token {a.digits!r}: a token is 20 digits")
    if a.cmd == "get" and not re.fullmatch(r"[^()/!\s]{1,32}", a.code):
        raise MeterError(f"code {a.code!r}: 1..32 characters, none of ( ) / ! or spaces")
    tariff = None
    if a.cmd == "tariff-upload":
        try:
            tariff = Path(a.file).read_bytes()
        except OSError as e:
            raise MeterError(f"{a.file}: cannot read: {e.strerror}") from None
    when = None
    if a.cmd == "set-clock":
        when = a.time or time.strftime("%Y-%m-%d %H:%M:%S")
        if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", when):
            raise MeterError(f"time {when!r}: write it as 'YYYY-MM-DD hh:mm:ss'")
    link = MeterLink(a.port, a.address, a.timeout)
    try:
        if a.cmd == "read":
            sets = link.readout()
            return [d.as_json() for d in sets], [_row(d) for d in sets]
        link.sign_on("1")
        if a.cmd == "get":
            d = link.get(a.code)
            if d is None:
                raise Refused(f"meter does not know code {a.code}")
            return d.as_json(), [_row(d)]
        if a.cmd == "token":
            result = link.token(a.digits)
            if result.lower() not in TOKEN_ACCEPTED:
                raise Refused(f"token not accepted: {result}")
            return {"token": a.digits, "result": result}, [f"token accepted ({result})"]
        if a.cmd == "events":
            rows = []
            for n in range(100):
                d = link.get(f"{EVENT_PREFIX}{n}")
                if d is None:
                    break
                rows.append(d)
            return [d.as_json() for d in rows], [_row(d) for d in rows] or ["no events"]
        if a.cmd == "freezes":
            return _freezes(link)
        assert key is not None
        link.authenticate(key)
        if a.cmd == "set-clock":
            assert when is not None
            link.write(CLOCK_SET, when)
            return {"clock": when}, [f"clock set to {when}"]
        if a.cmd == "calibrate":
            return calibrate_through_port(link, a)
        assert tariff is not None
        crc = link.upload(TARIFF_BEGIN, TARIFF_CHUNK, TARIFF_END, tariff, a.activate or "BEGIN")
        return {"bytes": len(tariff), "crc32": crc}, [f"tariff uploaded: {len(tariff)} bytes, CRC-32 {crc}"]
    finally:
        link.close()


# --- calibration through the port ------------------------------------------------
class PortChip:
    """The calibration procedure's view of the chip (host_sim.calibrate uses
    write, read, read_raw, software_reset, identify), as R1/W1 of the meter's
    bench-session codes: the meter's own driver does the SPI work."""

    def __init__(self, link: MeterLink) -> None:
        self.link = link
        self.round_trips = 0

    def _get(self, code: str) -> int:
        self.round_trips += 1
        d = self.link.get(code)
        if d is None or not d.value.lstrip("-").isdigit():
            raise MeterError(f"{self.link.port_name}: R1 {code} gave no register value (metering not paused?)")
        return int(d.value)

    def read(self, addr: int) -> int:
        return self._get(f"{CHIP_REGISTER}{addr}")

    def read_raw(self, addr: int) -> int:
        return self._get(f"{CHIP_REGISTER_RAW}{addr}")

    def write(self, addr: int, value: int) -> None:
        self.round_trips += 1
        self.link.write(f"{CHIP_REGISTER}{addr}", str(int(value)))

    def software_reset(self) -> None:
        self.round_trips += 1
        self.link.write(CHIP_CONTROL, "RESET")

    def identify(self) -> int:
        return self._get(CHIP_CONTROL)


class PortBench:
    """host_sim.calibrate's Bench over the technician port. set_source: the
    simulator's reference source (W1 C.99.9) or a person at a real bench;
    advance: time passing on the meter (real time / speed)."""

    def __init__(self, link: MeterLink, source: str = "sim", speed: float = 1.0) -> None:
        self.chip = PortChip(link)
        self.link = link
        self.source = source
        self.speed = speed

    def set_source(self, v_rms: float, i_rms: float, phi_deg: float, freq_hz: float) -> None:
        if self.source == "sim":
            self.link.write(BENCH_SOURCE, f"{v_rms:.4f};{i_rms:.5f};{phi_deg:.3f};{freq_hz:.3f}")
        else:
            input(f"set the reference source to {v_rms:g} V, {i_rms:g} A, current lagging {phi_deg:g} deg, "
                  f"{freq_hz:g} Hz; press Enter when it is stable ")

    def advance(self, seconds: float) -> None:
        if self.source != "sim" or seconds < 0.2:
            time.sleep(seconds / self.speed)
            return
        # a settling wait: at least `seconds` of the simulated meter's time, which
        # lags the wall clock x speed when the machine is busy
        t0 = self._sim_ms()
        time.sleep(seconds / self.speed)
        while self._sim_ms() - t0 < seconds * 1000:
            time.sleep(0.05 / self.speed)

    def _sim_ms(self) -> int:
        d = self.link.get(BENCH_CLOCK)
        if d is None or not d.value.isdigit():
            raise MeterError(f"{self.link.port_name}: R1 {BENCH_CLOCK} gave no simulated time (not host_sim console?)")
        return int(d.value)

    def off(self) -> None:
        if self.source == "sim":
            self.link.write(BENCH_SOURCE, "OFF")


def _check_calibrate_args(a: argparse.Namespace) -> None:
    if not Path(a.board).is_file():
        raise MeterError(f"{a.board}: no such board file")
    if a.speed <= 0:
        raise MeterError(f"--speed {a.speed}: must be above 0")
    if not 20 <= a.halfcycles <= 65535 or not 20 <= a.offset_halfcycles <= 65535:
        raise MeterError("--halfcycles/--offset-halfcycles: 20..65535 (the chip's LINECYC)")
    if a.out and not Path(a.out).resolve().parent.is_dir():
        raise MeterError(f"{a.out}: folder does not exist")
    # Load everything before signing on: the meter ends a session after a
    # minute without a frame (and a simulated meter's minute may be short).
    import host_sim  # noqa: F401  (firmware/ on sys.path)
    import host_sim.calibrate  # noqa: F401
    from host_sim.frontend import BoardError, load_board

    try:
        a.board_design = load_board(Path(a.board))
    except (BoardError, OSError, ValueError) as e:
        raise MeterError(f"{a.board}: {e}") from None


def calibrate_through_port(link: MeterLink, a: argparse.Namespace) -> tuple[object, list[str]]:
    """Pause metering, run the procedure on the meter's chip, upload the record, resume."""
    from host_sim.calibrate import Bench, calibrate  # noqa: F401  (Bench: the cast below)

    board = a.board_design
    bench = PortBench(link, a.source, a.speed)
    t0 = time.monotonic()
    link.write(METERING_CONTROL, "PAUSE")
    try:
        try:
            # PortChip stands in for the driver: the same five calls, over the port
            result = calibrate(board, cast("Bench", bench), halfcycles=a.halfcycles, offset_halfcycles=a.offset_halfcycles)
        except ValueError as e:  # CalibrationRefused: the board cannot be corrected
            raise Refused(f"calibration refused: {e}") from None
        text = result.calibration.to_json()
        crc = link.upload(CAL_BEGIN, CAL_CHUNK, CAL_END, text.encode())
    finally:
        bench.off()
        link.write(METERING_CONTROL, "RESUME")
    if a.out:
        Path(a.out).write_text(text)
    values = json.loads(text)
    steps = [{"name": s.name, "condition": s.condition, "measured": s.measured, "result": s.result}
             for s in result.steps]
    lines = [f"{s.name:8s} {s.condition:28s} {s.measured:24s} {s.result}" for s in result.steps]
    lines.append(f"calibration installed (CRC-32 {crc}); {bench.chip.round_trips} register round trips, "
                 f"{time.monotonic() - t0:.1f} s")
    return {"calibration": values, "steps": steps, "crc32": crc, "round_trips": bench.chip.round_trips}, lines


def _freezes(link: MeterLink) -> tuple[object, list[str]]:
    """Billing values (1.8.0*NN) and every freeze record, newest first per kind."""
    out: list[dict] = []
    lines: list[str] = []
    for k, kind in enumerate(FREEZE_KINDS):
        held = link.get(f"{FREEZE_PREFIX}{k}")
        n = int(held.value) if held is not None and held.value.isdigit() else 0
        for back in range(1, min(n, 99) + 1):
            d = link.get(f"{FREEZE_PREFIX}{k}*{back:02d}")
            if d is None:
                break
            f = d.value.split(";")
            names = ("time", "kind", "rate", "tier", "import_kwh", "rate1_kwh", "rate2_kwh", "rate3_kwh",
                     "rate4_kwh", "export_kwh", "step_kwh", "balance", "flags")
            rec: dict[str, object] = dict(zip(names, f))
            rec["back"] = back
            out.append(rec)
            lines.append(f"{kind:13s} {back:2d} back  {f[0]}  import {f[4]} kWh  balance {f[11] if len(f) > 11 else '?'}")
    return out, lines or ["no freezes"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.meterctl", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="exit status: 0 done, 1 the meter refused, 2 could not talk to it")
    p.add_argument("--port", required=True, help="serial device, pty path, or socket://127.0.0.1:PORT")
    p.add_argument("--address", default="", help="meter number to sign on to (default: any meter on the line)")
    p.add_argument("--key-file", help="file with the management key in hex (default: env METER_KEY)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON value instead of text")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("read", help="the standard data readout")
    g = sub.add_parser("get", help="read one code in programming mode (R1)")
    g.add_argument("code", help="OBIS code, e.g. 1.8.0 or 0-0:96.3.10")
    t = sub.add_parser("token", help="enter a 20-digit STS token (no key needed)")
    t.add_argument("digits")
    c = sub.add_parser("set-clock", help="set the meter's clock (needs the key)")
    c.add_argument("time", nargs="?", help="'YYYY-MM-DD hh:mm:ss' (default: this computer's local time)")
    sub.add_parser("events", help="the event log, newest first")
    sub.add_parser("freezes", help="billing values from the freezes (1.8.0*01 ...)")
    u = sub.add_parser("tariff-upload", help="upload a passive tariff file (needs the key)")
    u.add_argument("file")
    u.add_argument("--activate", help="activation time 'YYYY-MM-DD hh:mm:ss' (default: at once)")
    k = sub.add_parser("calibrate", help="calibrate the meter's ADE7753 through the port (needs the key)")
    k.add_argument("--board", required=True, help="board design JSON (ratios, meter constant; host_sim/boards)")
    k.add_argument("--out", help="also write the calibration record here")
    k.add_argument("--source", choices=("sim", "manual"), default="sim",
                   help="reference source: the simulator's (default) or a person at a real bench")
    k.add_argument("--speed", type=float, default=1.0,
                   help="the meter's time runs this many times real time (host_sim console --speed; 1 = real)")
    k.add_argument("--halfcycles", type=int, default=1000, help="line-cycle accumulation (default 1000)")
    k.add_argument("--offset-halfcycles", type=int, default=6000, help="offset-step accumulation (default 6000)")
    a = p.parse_args(argv)
    try:
        result, lines = run(a)
    except MeterError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_status
    print(json.dumps(result) if a.json else "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
