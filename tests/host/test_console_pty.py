"""The independent client `iec62056-21` (pwitab, 0.0.2) reads the technician port
over a real pseudo-terminal: the protocol under CPython (a thread polling
Iec62056Port on the pty master) and the same code under the MicroPython unix
port (tools/mpy/console_run.py with stdin/stdout on the pty master).
Both run the test fake provider, so the expected values are SAMPLE_VALUES.
The P2 reply is computed here with the standard library's hmac.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
import tty
from pathlib import Path

import pytest
from iec62056_21 import constants, messages

import iec_session  # tests/host: the client sessions these tests share
from fake_provider import SAMPLE_VALUES, DictProvider  # tests/fw, on sys.path via host_sim
from host_sim.console import PtyLine
from iec62056 import Iec62056Port

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
METER = "12345678"
TOKEN_OK = "23716100501183194197"  # the fake accepts this one (console_run.py sets it too)


def _cpython_meter():
    line = PtyLine()
    provider = DictProvider()
    provider.token_results[TOKEN_OK] = "ACCEPT"
    port = Iec62056Port(line, provider, KEY, METER)
    stop = threading.Event()

    def loop():
        t0 = time.monotonic()
        while not stop.is_set():
            port.poll(int((time.monotonic() - t0) * 1000) & ((1 << 30) - 1))
            time.sleep(0.005)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        yield line.path
    finally:
        stop.set()
        th.join()
        line.close()


def _micropython_meter():
    master, slave = os.openpty()
    tty.setraw(slave)
    env = dict(os.environ, MICROPYPATH="firmware:tests/fw:.frozen")
    proc = subprocess.Popen([str(ROOT / ".venv/bin/micropython"), "-X", "heapsize=128k", "tools/mpy/console_run.py",
                             KEY.hex(), METER, "300"], cwd=ROOT, env=env, stdin=master, stdout=master,
                            stderr=subprocess.PIPE)
    try:
        yield os.ttyname(slave)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        os.close(master)
        os.close(slave)
        assert b"Traceback" not in err, err.decode()


@pytest.fixture(params=["cpython", "micropython"])
def meter_pty(request):
    gen = _cpython_meter() if request.param == "cpython" else _micropython_meter()
    path = next(gen)
    yield path
    gen.close()


_connect = iec_session.connect
_programming = iec_session.programming
_p2 = iec_session.p2
_close = iec_session.close


def test_standard_readout_has_every_code(meter_pty):
    c = _connect(meter_pty)
    readout = c.standard_readout()
    c.disconnect()
    got = [(d.address, d.value, d.unit) for d in readout.data]
    assert got == [(code, value, unit) for code, value, unit in SAMPLE_VALUES]
    assert c.identification is not None and c.manufacturer_id == "XXX"


def test_programming_mode_reads_every_code(meter_pty):
    c, challenge = _programming(meter_pty)
    assert len(challenge) == 16 and int(challenge, 16) >= 0
    for code, value, unit in SAMPLE_VALUES:
        d = c.read_single_value(code)
        assert (d.address, d.value, d.unit) == (code, value, unit)
    _close(c)


def test_write_refused_without_session_then_accepted_after_p2(meter_pty):
    c, challenge = _programming(meter_pty)
    with pytest.raises(ValueError, match="NACK"):
        c.write_single_value("C.56.0", "DISCONNECT")
    assert _p2(c, challenge, KEY) == constants.ACK
    c.write_single_value("C.56.0", "DISCONNECT")  # raises on NAK
    assert c.read_single_value("C.56.0").value == "DISCONNECT"
    _close(c)


def test_wrong_p2_refused_and_lockout_grows(meter_pty):
    wrong = b"\xff" * 16
    c, challenge = _programming(meter_pty)
    assert _p2(c, challenge, wrong) == constants.NACK
    assert c.read_single_value("C.90.0").value == "5"
    with pytest.raises(ValueError, match="NACK"):
        c.write_single_value("C.56.0", "DISCONNECT")
    _close(c)
    time.sleep(5.2)  # let the first lockout pass, then fail again
    c, challenge = _programming(meter_pty)
    assert _p2(c, challenge, wrong) == constants.NACK
    assert c.read_single_value("C.90.0").value == "10"
    assert c.read_single_value("C.90.1").value == "2"
    _close(c)


def test_token_entry_without_session_carries_result(meter_pty):
    c, _ = _programming(meter_pty)
    for digits, want in ((TOKEN_OK, "ACCEPT"), ("23716100501183194198", "CRC"), ("123", "FORMAT")):
        c.transport.send(messages.CommandMessage.for_single_write("0-0:19.40.0", digits).to_bytes())
        answer = c.read_response()
        assert [(d.address, d.value) for d in answer.data] == [("0-0:19.40.0", want)]
    _close(c)


def test_other_address_is_silent_ours_answers(meter_pty):
    import serial

    with serial.Serial(meter_pty, 300, bytesize=7, parity="E", timeout=0.6) as s:
        s.write(b"/?99999999!\r\n")
        assert s.read(20) == b""
        s.write(b"/?" + METER.encode() + b"!\r\n")
        assert s.readline() == b"/XXX5PPM1\r\n"
