"""The technician port on the REAL application: firmware/techport.py + readout.py
inside firmware/app.py's loop on a simulated board (host_sim.console's
SimConsoleMeter), driven byte by byte over an in-memory line in virtual time.

Frames, BCC and the P2 reply are built by tests/fw/iec_client.py (its own BCC
and HMAC); expected values come from the test's own arithmetic (load x time,
energy x price, the token amount the test encoded), never from the code under test.
"""
from __future__ import annotations

import binascii
import datetime
import json
import re
from fractions import Fraction

import pytest

import obis
from fake_provider import MemoryIO  # tests/fw
from host_sim.console import DECODER_KEY_HEX, Settings, SimConsoleMeter
from host_sim.frontend import BOARDS_DIR
from iec_client import bcc, frame, ref_hmac, to_hex
from tools import sts as vend

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
START = (2026, 3, 2, 0, 0, 30, 0, 0)  # Monday 00:30: rate 3 (0.4000 per kWh) until 08:00
LOAD_W = 2000.0


class Line:
    """A client on the meter's in-memory line, in the meter's virtual time."""

    def __init__(self, tmp_path, prepaid: bool = True) -> None:
        self.io = MemoryIO()
        self.meter = SimConsoleMeter(self.io, Settings(files=tmp_path, board=BOARDS_DIR / "ideal.json",
                                                       load_w=LOAD_W, prepaid=prepaid, start=START))
        self.app = self.meter.app

    def run(self, ms: int) -> bytes:
        self.meter.run_to(self.meter.virtual_ms + ms)
        return self.io.take()

    def send(self, data: bytes, ms: int = 1000) -> bytes:
        self.io.inject(data)
        return self.run(ms)

    def sign_on(self, mode: bytes) -> bytes:
        assert self.send(b"/?12345678!\r\n") == b"/XXX5PPM1\r\n"
        return self.send(b"\x0605" + mode + b"\r\n", 2500)

    def programming(self) -> bytes:
        p0 = self.sign_on(b"1")
        assert p0[:4] == b"\x01P0\x02" and p0[-1] == bcc(p0[1:-1]), p0
        return p0[5:-3]

    def login(self, key: bytes = KEY) -> bytes:
        ch = self.programming()
        return self.send(frame(b"P2", b"(" + to_hex(ref_hmac(key, ch)[:8]) + b")"))

    def r1(self, code: str) -> str:
        out = self.send(frame(b"R1", code.encode() + b"()"))
        assert out[0] == 2 and out[-1] == bcc(out[1:-1]), out
        m = re.fullmatch(rb"\x02([^(]*)\(([^()]*)\)\x03.", out, re.S)
        assert m is not None, out
        return m.group(2).decode()

    def w1(self, code: str, value: str) -> bytes:
        return self.send(frame(b"W1", f"{code}({value})".encode()))

    def close(self) -> None:
        self.send(frame(b"B0"))
        self.meter.close()


@pytest.fixture
def line(tmp_path):
    ln = Line(tmp_path)
    yield ln
    ln.close()


def _token(tid: int, amount_raw: int) -> str:
    block = vend.make_block(0, 4, 3, tid, amount_raw)  # currency credit, subclass 4
    return vend.token_from_block(0, block, bytes.fromhex(DECODER_KEY_HEX))


def test_readout_streams_every_code_with_the_registers_values(line):
    line.run(120_000)  # two minutes at 2 kW on the ideal board
    out = line.sign_on(b"0")
    out += line.run(5000)
    assert out[0] == 2 and out.endswith(b"!\r\n\x03" + bytes([out[-1]]))
    assert out[-1] == bcc(out[1:-1])
    sets = dict(re.findall(r"([^()\r\n]+)\(([^()]*)\)", out[1:-5].decode()))
    for code in obis.STANDARD_READOUT + (obis.STEP_CONSUMPTION, obis.TARIFF_TIER, obis.PRICE,
                                         obis.EMERGENCY_DEBT, obis.BALANCE_STATE):
        assert code in sets and "ERROR" not in sets[code], code
    kwh = float(sets["1.8.0"].split("*")[0])
    expect = LOAD_W * 122 / 3_600_000  # 2 min + the sign-on's seconds, at most
    assert expect - 0.004 <= kwh <= expect  # the cut-off window's first 10 s may be pending
    assert sets["1.8.3"] == sets["1.8.0"] and sets["1.8.1"].startswith("0.000")  # rate 3 all night
    assert sets["0-0:96.14.0"] == "3" and sets["C.52.0"] == "0.4000"
    assert sets["0.0.0"] == "12345678" and sets["0.9.2"] == "26-03-02"
    # whole volts (readout.py): the chip's 0.5 % of 220 V plus half a digit
    assert sets["32.7.0"].split("*")[0].isdigit()
    assert abs(float(sets["32.7.0"].split("*")[0]) - 220.0) <= 1.6
    assert abs(float(sets["1.7.0"].split("*")[0]) - 2.0) < 0.02
    assert sets["0-0:96.3.10"] == "CONNECTED" and sets["F.F"] == "00000000"
    # remaining credit = 100 - the readout's energy at 0.4000; the readout truncates to
    # 1 Wh (0.0004) and the lines leave ~0.1 s apart, so within 0.0005
    credit = Fraction(sets["0-0:19.10.0"].split("*")[0])
    assert abs(credit - (100 - Fraction(sets["1.8.0"].split("*")[0]) * Fraction(4, 10))) <= Fraction(5, 10000)


def test_writes_refused_without_a_session_and_nothing_changes(line):
    line.run(2000)
    line.programming()
    day, sod = line.app.clock.day, line.app.clock.sod
    for code, value in ((obis.CLOCK_SET, "2027-01-01 00:00:00"), (obis.RELAY_COMMAND, "DISCONNECT"),
                        (obis.FREEZE_NOW, "1"), (obis.GUARANTEED_SUPPLY, "1"), (obis.MAINTENANCE, "1"),
                        (obis.METERING_CONTROL, "PAUSE"), ("C.63.9", "0")):
        assert line.w1(code, value) == b"\x15", code
    assert line.app.prepay.relay.closed and not line.app.metering.paused
    assert line.app.clock.day == day and abs(line.app.clock.sod - sod) < 60
    assert line.meter.maintenance is None and line.r1("C.96.4") == "0"
    assert line.app.events.find("console_refused") is not None


def test_authenticated_writes_reach_the_app(line, tmp_path):
    line.run(2000)
    assert line.login() == b"\x06"
    assert line.w1(obis.CLOCK_SET, "2026-03-02 07:59:00") == b"\x06"
    assert line.r1(obis.LOCAL_TIME)[:5] == "07:59"
    line.send(frame(b"B0"))
    line.run(61_000)
    assert line.login() == b"\x06"
    assert line.r1(obis.CURRENT_RATE) == "2"  # 08:00 switched to rate 2
    assert line.w1(obis.RELAY_COMMAND, "DISCONNECT") == b"\x06"
    assert line.r1(obis.RELAY_STATE) == "DISCONNECTED"
    assert int(line.r1(obis.ERROR_REGISTER), 16) & 0x08
    assert line.w1(obis.RELAY_COMMAND, "CONNECT") == b"\x06"
    assert line.w1(obis.RELAY_COMMAND, "OPEN") == b"\x15"  # not a command: refused
    assert line.w1(obis.FREEZE_NOW, "1") == b"\x06"
    assert line.r1("C.96.4") == "1"
    fz = line.r1("C.96.4*01").split(";")
    assert fz[0].startswith("26-03-02 08:0") and fz[1] == "INSTANT"
    assert fz[4] == line.r1(obis.IMPORT_TOTAL).split("*")[0] or float(fz[4]) <= float(line.r1("1.8.0").split("*")[0])
    assert line.w1(obis.GUARANTEED_SUPPLY, "1") == b"\x06"
    assert line.app.prepay.periods.guaranteed
    assert line.w1(obis.PREPAY_THRESHOLDS, "alarm1=7.5000;alarm2=3.0000") == b"\x06"
    stored = json.loads((tmp_path / "prepay.json").read_text())
    assert stored["alarm1"] == "7.5000" and stored["alarm2"] == "3.0000"
    assert line.w1(obis.PREPAY_THRESHOLDS, "alarm1=lots") == b"\x15"  # validated whole, refused
    assert json.loads((tmp_path / "prepay.json").read_text())["alarm1"] == "7.5000"


def test_passive_tariff_upload_checked_by_crc(line):
    line.run(2000)
    assert line.login() == b"\x06"
    tariff = json.dumps({"currency": "CNY", "rates": {"1": "1.0000", "2": "1.0000", "3": "1.0000", "4": "1.0000"},
                         "days": {"all": [["00:00", 1]]}, "weeks": {"std": ["all"] * 7},
                         "seasons": [["01-01", "std"]]}).encode()
    assert line.w1(obis.TARIFF_UPLOAD_BEGIN, "2026-03-02 01:00:00") == b"\x06"
    for i in range(0, len(tariff), 48):
        assert line.w1(obis.TARIFF_UPLOAD_CHUNK, tariff[i:i + 48].hex()) == b"\x06"
    assert line.w1(obis.TARIFF_UPLOAD_END, "%08x" % (binascii.crc32(tariff) ^ 1)) == b"\x15"  # damaged
    assert line.app.tariff.passive is None
    assert line.w1(obis.TARIFF_UPLOAD_BEGIN, "2026-03-02 01:00:00") == b"\x06"
    for i in range(0, len(tariff), 48):
        assert line.w1(obis.TARIFF_UPLOAD_CHUNK, tariff[i:i + 48].hex()) == b"\x06"
    assert line.w1(obis.TARIFF_UPLOAD_END, "%08x" % binascii.crc32(tariff)) == b"\x06"
    assert line.app.tariff.passive is not None
    assert line.r1(obis.PRICE) == "0.4000"  # passive until 01:00
    line.send(frame(b"B0"))
    line.run(31 * 60_000)
    line.programming()
    assert line.r1(obis.PRICE) == "1.0000" and line.r1(obis.CURRENT_RATE) == "1"


def test_wrong_p2_refused_lockout_grows_and_is_logged(line):
    line.run(2000)
    wrong = b"\xee" * 16
    assert line.login(wrong) == b"\x15"
    assert 3 <= int(line.r1("C.90.0").split("*")[0]) <= 5 and line.r1("C.90.1") == "1"  # 5 s, a second gone
    assert line.w1(obis.RELAY_COMMAND, "DISCONNECT") == b"\x15"
    line.send(frame(b"B0"))
    line.run(4000)
    assert line.login(wrong) == b"\x15"
    assert 8 <= int(line.r1("C.90.0").split("*")[0]) <= 10 and line.r1("C.90.1") == "2"  # doubled
    assert line.login(KEY) == b"\x15"  # the right key during the lockout: not even checked
    assert line.app.prepay.relay.closed
    assert line.app.events.find("auth_failed") is not None


def test_token_entry_without_a_session(line):
    line.run(2000)
    line.programming()
    bal0 = line.app.prepay.account.balance_e4()
    tok = _token(vend.tid_of(datetime.datetime(2026, 3, 1, 21, 0), 2014), vend.amount_raw_exact(2500))
    results = []
    for digits, want in ((tok, "accepted"), (tok, "used"), ("12345678901234567890", None), ("123", "FORMAT")):
        out = line.w1(obis.TOKEN_GATEWAY, digits)
        assert out[-1] == bcc(out[1:-1])
        got = re.fullmatch(rb"\x020-0:19\.40\.0\(([^()]*)\)\x03.", out, re.S)
        assert got is not None, out
        results.append(got.group(1).decode())
        if want is not None:
            assert got.group(1).decode() == want
        else:
            assert got.group(1).decode() not in ("accepted", "used", "FORMAT")
    bal1 = line.app.prepay.account.balance_e4()
    assert 250_000 - 10 <= bal1 - bal0 <= 250_000  # 25.00 credited once, minus a pass or two of energy
    assert line.r1(obis.TOKEN_GATEWAY) == results[2]  # the last token the gateway decided


def test_bench_session_register_access_and_calibration_without_reboot(line, tmp_path):
    line.run(12_000)
    assert line.login() == b"\x06"
    assert line.r1("C.63.9") == "ERROR"  # not paused: no chip access
    assert line.w1(obis.METERING_CONTROL, "PAUSE") == b"\x06"
    assert line.r1(obis.METERING_CONTROL) == "PAUSED"
    assert int(line.r1(obis.ERROR_REGISTER), 16) & 0x04
    cal = json.loads((BOARDS_DIR / "ideal.cal.json").read_text())
    assert int(line.r1("C.63.21")) == cal["cfden"]  # CFDEN as configured from the calibration
    assert line.w1("C.63.18", "-100") == b"\x06"  # WGAIN
    assert line.r1("C.63.18") == "-100" and line.r1("C.64.18") == str(4096 - 100)
    energy_before = line.app.metering.meter.metrology.energy_import.micro_wh()
    line.run(10_000)
    assert line.app.metering.meter.metrology.energy_import.micro_wh() == energy_before  # paused
    # a new calibration through the port: 1 % more WGAIN; CRC checked
    new = {k: v for k, v in cal.items() if k != "crc32"}
    new["wgain"] = 41
    import calibration as fw_cal

    text = fw_cal.make(new).to_json().encode()
    assert line.w1(obis.CAL_UPLOAD_BEGIN, "BEGIN") == b"\x06"
    for i in range(0, len(text), 48):
        assert line.w1(obis.CAL_UPLOAD_CHUNK, text[i:i + 48].hex()) == b"\x06"
    assert line.w1(obis.CAL_UPLOAD_END, "%08x" % binascii.crc32(text)) == b"\x06"
    assert line.w1(obis.METERING_CONTROL, "RESUME") == b"\x06"
    line.send(frame(b"B0"))
    line.run(2000)
    m = line.app.metering.meter
    assert m is not None and m.metrology.cal.wgain == 41  # the new record, no reboot
    assert line.meter.boots == 1
    assert json.loads((tmp_path / "calibration.json").read_text())["wgain"] == 41


def test_a_bench_session_that_ends_resumes_metering(line):
    line.run(2000)
    assert line.login() == b"\x06"
    assert line.w1(obis.METERING_CONTROL, "PAUSE") == b"\x06"
    line.run(61_000)  # no frame for a minute: the session ends
    assert not line.app.metering.paused
    line.run(2000)
    assert line.app.metering.meter is not None


def test_maintenance_command_acks_then_the_meter_reboots_into_maintenance(line, tmp_path):
    line.run(2000)
    assert line.login() == b"\x06"
    assert line.w1(obis.MAINTENANCE, "2") == b"\x15"
    assert line.meter.maintenance is None
    assert line.w1(obis.MAINTENANCE, "1") == b"\x06"  # the answer leaves before the reset
    line.run(1000)
    assert line.meter.maintenance == "flag file"  # rebooted; the flag file was consumed by that boot
    assert not (tmp_path / "maintenance.flag").exists()


def test_app_run_polls_an_open_session_between_passes(tmp_path):
    """On the device App.run sleeps between 500 ms passes; while a session is
    open it wakes every 20 ms for the console, so a reply is not held for a pass."""
    ln = Line(tmp_path)
    try:
        app = ln.app
        polls: list[int] = []
        real_poll = app.console.poll

        def counting_poll(now_ms: int) -> None:
            polls.append(now_ms)
            real_poll(now_ms)

        app.console.poll = counting_poll
        slept: list[int] = []
        app.hw.sleep_ms = lambda ms: (slept.append(ms), ln.meter._advance(ms))
        with ln.meter._cwd():
            app.run(max_passes=3)  # idle: one poll per pass, sleeps of a whole pass
            assert len(polls) == 3 and max(slept) > 400
            polls.clear()
            slept.clear()
            ln.io.inject(b"/?12345678!\r\n")
            app.run(max_passes=3)  # busy after the first pass: 20 ms naps
        assert len(polls) > 20 and max(slept[2:]) <= 20
        assert ln.io.take() == b"/XXX5PPM1\r\n"
    finally:
        ln.meter.close()


def test_a_session_that_ends_drops_half_uploads(line):
    line.run(2000)
    assert line.login() == b"\x06"
    assert line.w1(obis.TARIFF_UPLOAD_BEGIN, "BEGIN") == b"\x06"
    assert line.w1(obis.TARIFF_UPLOAD_CHUNK, "7b7d") == b"\x06"
    assert line.w1(obis.CAL_UPLOAD_BEGIN, "BEGIN") == b"\x06"
    line.send(frame(b"B0"))
    assert line.login() == b"\x06"
    # the END of the earlier upload finds nothing to end: refused
    assert line.w1(obis.TARIFF_UPLOAD_END, "%08x" % binascii.crc32(b"{}")) == b"\x15"
    assert line.w1(obis.CAL_UPLOAD_END, "%08x" % binascii.crc32(b"")) == b"\x15"
    assert line.app.tariff.passive is None
