"""tools/meterctl against `python -m host_sim console` on a pty (both real CLIs:
the real application on a simulated board, at 10x real time), and against
scripted misbehaving meters for its error paths."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tty
import zlib
from pathlib import Path

import pytest

from host_sim.console import DECODER_KEY_HEX, TARIFF
from tools import sts as vend

ROOT = Path(__file__).resolve().parents[2]
KEY_HEX = "00112233445566778899aabbccddeeff"  # the simulator's default key


@pytest.fixture(scope="module")
def console():
    proc = subprocess.Popen([sys.executable, "-m", "host_sim", "console", "--pty", "--seconds", "300", "--speed", "10"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = proc.stdout.readline().strip()
    assert path.startswith("/dev/pts/"), path
    yield path
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err


def meterctl(port: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("METER_KEY", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "tools.meterctl", "--port", port, *args], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=60)


def test_read_json_has_the_spec_codes(console):
    r = meterctl(console, "--json", "read")
    assert r.returncode == 0, r.stderr
    rows = {d["code"]: (d["value"], d["unit"]) for d in json.loads(r.stdout)}
    for code in ("0.0.0", "C.1.0", "0.9.1", "0.9.2", "1.8.0", "1.8.1", "1.8.2", "1.8.3", "1.8.4", "2.8.0",
                 "1.7.0", "16.7.0", "32.7.0", "31.7.0", "14.7.0", "13.7.0", "0-0:96.14.0", "0-0:96.3.10",
                 "0-0:19.10.0", "F.F"):
        assert code in rows, code
    assert rows["0.0.0"] == ("12345678", None)
    assert rows["1.8.0"][1] == "kWh"


def test_get_human_and_unknown_code(console):
    r = meterctl(console, "get", "32.7.0")
    assert r.returncode == 0 and "32.7.0" in r.stdout and "V" in r.stdout and "voltage" in r.stdout
    r = meterctl(console, "get", "7.7.7")
    assert r.returncode == 1
    assert r.stderr.strip() == "error: meter does not know code 7.7.7"


def test_token_accepted_then_used(console):
    import datetime

    tok = vend.token_from_block(0, vend.make_block(0, 4, 3, vend.tid_of(datetime.datetime(2026, 2, 28, 20, 0), 2014),
                                                   vend.amount_raw_exact(1000)), bytes.fromhex(DECODER_KEY_HEX))
    r = meterctl(console, "--json", "token", tok)
    assert r.returncode == 0 and json.loads(r.stdout)["result"] == "accepted", r.stderr
    r = meterctl(console, "token", tok)
    assert r.returncode == 1 and r.stderr.strip() == "error: token not accepted: used"
    r = meterctl(console, "token", "1234")
    assert r.returncode == 2 and "20 digits" in r.stderr


def test_events_and_freezes(console, tmp_path):
    key = {"METER_KEY": KEY_HEX}
    # forwards (a backward set repeats no freeze): the midnights in between are
    # taken late, 1 January is a billing day; then midnight passes on time
    r = meterctl(console, "set-clock", "2027-01-01 23:59:45", env=key)
    assert r.returncode == 0, r.stderr
    time.sleep(4)  # 40 s of the meter's time
    r = meterctl(console, "--json", "freezes")
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)
    daily = [f for f in recs if f["kind"] == "DAILY"]
    assert daily[0]["time"] == "27-01-02 00:00:00" and daily[0]["back"] == 1 and daily[0]["flags"] == "0"
    assert daily[1]["time"] == "27-01-01 00:00:00" and int(daily[1]["flags"]) & 1  # late
    billing = [f for f in recs if f["kind"] == "BILLING"]
    assert billing[0]["time"] == "27-01-01 00:00:00"
    r = meterctl(console, "get", "1.8.0*01")
    assert r.returncode == 0 and billing[0]["import_kwh"] in r.stdout
    r = meterctl(console, "events")
    assert r.returncode == 0 and "clock_set" in r.stdout and "boot" in r.stdout


def test_writes_need_the_key_and_the_right_one(console, tmp_path):
    r = meterctl(console, "set-clock", "2026-12-01 10:00:00")
    assert r.returncode == 2 and "--key-file" in r.stderr
    key = tmp_path / "key"
    key.write_text(KEY_HEX + "\n")
    r = meterctl(console, "--key-file", str(key), "set-clock", "2026-12-01 10:00:00")
    assert r.returncode == 0, r.stderr
    tariff = tmp_path / "tariff.json"
    tariff.write_bytes(b'{"rates": [1, 2, 3, 4]}' * 9)  # arrives whole (CRC good) but is no tariff
    r = meterctl(console, "tariff-upload", str(tariff), env={"METER_KEY": KEY_HEX})
    assert r.returncode == 1 and "refused W1 C.61.2" in r.stderr
    tariff.write_text(json.dumps(TARIFF))
    r = meterctl(console, "--json", "tariff-upload", str(tariff), "--activate", "2027-01-01 00:00:00",
                 env={"METER_KEY": KEY_HEX})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"bytes": len(tariff.read_bytes()), "crc32": "%08x" % zlib.crc32(tariff.read_bytes())}
    wrong = {"METER_KEY": "ff" * 16}
    r = meterctl(console, "set-clock", env=wrong)
    assert r.returncode == 1 and "wrong key" in r.stderr
    r = meterctl(console, "set-clock", env=wrong)
    assert r.returncode == 1 and "locked out" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


class ScriptedMeter:
    """A pty whose 'meter' answers sign-ons with a fixed script."""

    def __init__(self, answer: bytes | None) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.answer = answer
        self.stop = False
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self) -> None:
        os.set_blocking(self.master, False)
        buf = b""
        while not self.stop:
            try:
                buf += os.read(self.master, 100)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if b"!\r\n" in buf and self.answer is not None:
                buf = b""
                os.write(self.master, b"/XXX5PPM1\r\n")
                time.sleep(0.4)
                os.write(self.master, self.answer)

    def close(self) -> None:
        self.stop = True
        self.th.join()
        os.close(self.master)
        os.close(self.slave)


def test_no_answer_bcc_wrong_are_exit_2():
    silent = ScriptedMeter(None)
    try:
        r = meterctl(silent.path, "--timeout", "0.5", "read")
        assert r.returncode == 2 and "no answer (identification)" in r.stderr
    finally:
        silent.close()
    body = b"1.8.0(1*kWh)\r\n!\r\n\x03"
    x = 0
    for b in body:
        x ^= b
    bad = ScriptedMeter(b"\x02" + body + bytes([x ^ 0x10]))
    try:
        r = meterctl(bad.path, "--timeout", "1", "read")
        assert r.returncode == 2 and "BCC wrong" in r.stderr, r.stderr
    finally:
        bad.close()


def test_calibrate_bad_arguments_are_one_line_before_the_port_is_opened(tmp_path):
    r = meterctl("/dev/nonexistent", "calibrate", "--board", "host_sim/boards/default.json")
    assert r.returncode == 2 and "--key-file" in r.stderr
    key = {"METER_KEY": KEY_HEX}
    r = meterctl("/dev/nonexistent", "calibrate", "--board", str(tmp_path / "none.json"), env=key)
    assert r.returncode == 2 and "no such board file" in r.stderr
    r = meterctl("/dev/nonexistent", "calibrate", "--board", "host_sim/boards/default.json", "--halfcycles", "5",
                 env=key)
    assert r.returncode == 2 and "LINECYC" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = meterctl("/dev/nonexistent", "calibrate", "--board", str(bad), env=key)
    assert r.returncode == 2 and str(bad) in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
