"""The independent client `iec62056-21` (pwitab, 0.0.2) reads the REAL application
over a pseudo-terminal: `python -m host_sim console --pty` (the firmware under
CPython on a simulated board) and tools/mpy/console_run.py app (the same
firmware under the MicroPython unix port, stdin/stdout on the pty, on the
register-image chip). The P2 reply is computed here with the standard hmac;
tokens are made by the vending tool (tools.sts) for the simulator's decoder key.
Then meterctl calibrates a simulated board through the pty.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tty
from pathlib import Path

import pytest
from iec62056_21 import constants, messages

import iec_session  # tests/host: the client sessions these tests share
import obis
from host_sim.console import DECODER_KEY_HEX
from tools import sts as vend

ROOT = Path(__file__).resolve().parents[2]
KEY_HEX = "00112233445566778899aabbccddeeff"
KEY = bytes.fromhex(KEY_HEX)
METER = "12345678"


def _cpython_meter(files: Path, *extra: str):
    p = subprocess.Popen([sys.executable, "-m", "host_sim", "console", "--pty", "--files", str(files), *extra],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = p.stdout.readline().strip()
    try:
        assert path.startswith("/dev/"), p.stderr.read()
        yield path
    finally:
        p.terminate()
        _, err = p.communicate(timeout=20)
        assert "Traceback" not in err, err


def _micropython_meter(files: Path):
    master, slave = os.openpty()
    tty.setraw(slave)
    env = dict(os.environ, MICROPYPATH="tools/mpy:firmware:tests/fw:.frozen")
    # 512k: the whole firmware compiled from source on the 64-bit port (the
    # ESP32 runs it frozen / as .mpy in far less; see make test-esp32)
    proc = subprocess.Popen([str(ROOT / ".venv/bin/micropython"), "-X", "heapsize=512k", "tools/mpy/console_run.py",
                             "app", KEY_HEX, METER, "300", str(files)], cwd=ROOT, env=env, stdin=master, stdout=master,
                            stderr=subprocess.PIPE)
    try:
        yield os.ttyname(slave)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        os.close(master)
        os.close(slave)
        assert b"Traceback" not in err, err.decode()


@pytest.fixture(scope="module", params=["cpython", "micropython"])
def meter_pty(request, tmp_path_factory):
    files = tmp_path_factory.mktemp(request.param)
    # the simulator at 5x real time (its sign-on handshake always runs in real time)
    gen = _cpython_meter(files, "--speed", "5") if request.param == "cpython" else _micropython_meter(files)
    yield next(gen)
    gen.close()


def _connect(path: str) -> iec_session.Client:
    return iec_session.connect(path, 10)  # the MicroPython meter compiles its modules first


def _programming(path: str) -> tuple[iec_session.Client, str]:
    return iec_session.programming(path, 10)


_p2 = iec_session.p2
_close = iec_session.close


def test_independent_client_reads_every_code(meter_pty):
    c = _connect(meter_pty)
    readout = c.standard_readout()
    c.disconnect()
    got = {d.address: (d.value, d.unit) for d in readout.data}
    want = obis.STANDARD_READOUT + (obis.STEP_CONSUMPTION, obis.TARIFF_TIER, obis.PRICE, obis.EMERGENCY_DEBT,
                                    obis.BALANCE_STATE)
    assert [d.address for d in readout.data][:len(want)] == list(want)
    assert all(v != "ERROR" for v, _ in got.values()), got
    assert got["0.0.0"] == (METER, None) and got["1.8.0"][1] == "kWh" and got["0-0:96.3.10"][0] == "CONNECTED"
    assert c.manufacturer_id == "XXX"
    # programming mode: R1 of every readout code answers that code
    c, _ = _programming(meter_pty)
    for code in want:
        d = c.read_single_value(code)
        assert d.address == code and d.value != "ERROR", (code, d)
    _close(c)


def test_token_then_authenticated_relay_command(meter_pty):
    c, challenge = _programming(meter_pty)
    tok = vend.token_from_block(0, vend.make_block(0, 4, 3, vend.tid_of(datetime.datetime(2026, 2, 28, 21, 0), 2014),
                                                   vend.amount_raw_exact(500)), bytes.fromhex(DECODER_KEY_HEX))
    c.transport.send(messages.CommandMessage.for_single_write(obis.TOKEN_GATEWAY, tok).to_bytes())
    assert [(d.address, d.value) for d in c.read_response().data] == [(obis.TOKEN_GATEWAY, "accepted")]
    c.transport.send(messages.CommandMessage.for_single_write(obis.TOKEN_GATEWAY, tok).to_bytes())
    assert [d.value for d in c.read_response().data] == ["used"]
    assert float(c.read_single_value(obis.REMAINING_CREDIT).value) > 100.0  # 5.00 on top of 100
    _close(c)
    c, challenge = _programming(meter_pty)
    assert _p2(c, challenge, KEY) == constants.ACK
    c.write_single_value(obis.RELAY_COMMAND, "DISCONNECT")  # raises on NAK
    assert c.read_single_value(obis.RELAY_STATE).value == "DISCONNECTED"
    c.write_single_value(obis.RELAY_COMMAND, "CONNECT")
    _close(c)


def test_writes_need_p2_wrong_reply_locks_out(meter_pty):
    c, challenge = _programming(meter_pty)
    with pytest.raises(ValueError, match="NACK"):
        c.write_single_value(obis.RELAY_COMMAND, "DISCONNECT")
    assert c.read_single_value(obis.RELAY_STATE).value == "CONNECTED"
    assert _p2(c, challenge, b"\x55" * 16) == constants.NACK
    assert c.read_single_value("C.90.1").value == "1"
    assert 1 <= int(c.read_single_value("C.90.0").value) <= 5
    _close(c)


def test_meterctl_calibrates_a_simulated_board_through_the_pty(tmp_path):
    """The default board (gain, phase, offset errors) starts with the ideal board's
    calibration; meterctl runs the datasheet procedure on its chip through the
    port. The independent reference: default.cal.json, made by the same procedure
    on the sample-level model with its own bench (host_sim calibrate)."""
    boards = ROOT / "host_sim/boards"
    gen = _cpython_meter(tmp_path / "dev", "--board", str(boards / "default.json"), "--calibration",
                         str(boards / "ideal.cal.json"), "--speed", "20")
    path = next(gen)
    try:
        env = dict(os.environ, METER_KEY=KEY_HEX)
        r = subprocess.run([sys.executable, "-m", "tools.meterctl", "--port", path, "--json", "calibrate",
                            "--board", str(boards / "default.json"), "--speed", "20", "--halfcycles", "100",
                            "--offset-halfcycles", "2000", "--out", str(tmp_path / "cal.json")],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)["calibration"]
        ref = json.loads((boards / "default.cal.json").read_text())
        assert got["cfden"] == ref["cfden"]
        assert abs(got["wgain"] - ref["wgain"]) <= 2  # 2/4096: 0.05 %
        assert abs(got["phcal"] - ref["phcal"]) <= 1  # one PHCAL step: 0.04 deg
        assert abs(got["apos"] - ref["apos"]) <= 0.1 * abs(ref["apos"])
        # the rms registers carry LPF3's 100 Hz ripple (about +-0.33 %): the reference
        # bench spreads its 10 reads evenly over it; through the simulated port they
        # all sit at one phase (fixed 250 ms steps locked to the simulated 50 Hz,
        # host_sim/console.py): VRMS +0.25 %, IRMS +0.03 %, the same every run
        assert abs(got["vrms_lsb_ref"] / ref["vrms_lsb_ref"] - 1) < 0.004
        assert abs(got["irms_lsb_ref"] / ref["irms_lsb_ref"] - 1) < 0.004
        # installed and in effect without a reboot: the device's file, metering running
        assert json.loads((tmp_path / "dev/calibration.json").read_text())["wgain"] == got["wgain"]
        r = subprocess.run([sys.executable, "-m", "tools.meterctl", "--port", path, "events"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        kinds = [ln.split()[3] for ln in r.stdout.splitlines()]
        assert "calibration_change" in kinds and "metering_resumed" in kinds
        assert kinds.count("boot") == 1  # no reboot
    finally:
        gen.close()


def test_console_service_memory_on_the_unix_port(tmp_path):
    """The service on the whole application under MicroPython: an idle poll (every
    pass of a meter nobody talks to) allocates nothing; its retained state stays
    within the issue's 4 KB even with 64-bit objects."""
    env = dict(os.environ, MICROPYPATH="tools/mpy:firmware:tests/fw:.frozen")
    out = subprocess.run([str(ROOT / ".venv/bin/micropython"), "-X", "heapsize=512k", "tools/mpy/console_run.py",
                          "appmem", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert m["console_app_idle_poll_alloc_bytes"] == 0
    assert m["console_app_state_bytes"] <= 4096
    assert m["console_app_readout_bytes"] > 300  # a whole readout went out
