"""`python -m host_sim console`: the real application behind a pty or TCP, its
first line says where; bad settings are one clear line and exit 2."""
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fake_provider import MemoryIO  # tests/fw
from host_sim.console import BENCH_SOURCE, ConsoleError, Settings, SimBenchSource, SimConsoleMeter

ROOT = Path(__file__).resolve().parents[2]


def test_console_prints_the_pty_path_first_and_serves_the_real_app(tmp_path):
    p = subprocess.run([sys.executable, "-m", "host_sim", "console", "--pty", "--seconds", "1.5",
                        "--files", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith("/dev/pts/")
    # the device's files were made and used: the App booted and saved its registers
    assert (tmp_path / "meter.json").exists() and (tmp_path / "calibration.json").exists()
    assert (tmp_path / "boots.txt").read_text().split()[0] == "1"


def test_console_on_tcp_answers_a_sign_on():
    p = subprocess.Popen([sys.executable, "-m", "host_sim", "console", "--tcp", "0", "--seconds", "20"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline().split()
        assert first[0] == "tcp"
        host, port = first[1].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"/?12345678!\r\n")
            s.settimeout(5)
            got = b""
            while not got.endswith(b"\n"):
                got += s.recv(64)
        assert got == b"/XXX5PPM1\r\n"
    finally:
        p.terminate()
        p.communicate(timeout=10)


def test_bad_settings_are_one_line_and_exit_2():
    p = subprocess.run([sys.executable, "-m", "host_sim", "console", "--pty", "--seconds", "1", "--meter", "12ab"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "meter number" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert p.stdout == ""  # no path printed: nothing is served


def test_bad_settings_refused_before_anything_is_made(tmp_path):
    for kw, words in (({"key_hex": "zz"}, "not hex"), ({"key_hex": "00" * 8}, "16 or 32"),
                      ({"pf": 2.0}, "PF"), ({"board": tmp_path / "none.json"}, "no such calibration")):
        with pytest.raises(ConsoleError, match=words):
            SimConsoleMeter(MemoryIO(), Settings(files=tmp_path / "dev", **kw))
        assert not (tmp_path / "dev").exists()


def test_bench_source_validates_what_it_is_given():
    b = SimBenchSource()
    assert b.handles(BENCH_SOURCE) and not b.handles("C.99.8")
    assert b.read(BENCH_SOURCE) == ("OFF", None)
    assert b.write(BENCH_SOURCE, "230;5;60;50") is None and b.source == (230.0, 5.0, 60.0, 50.0)
    for bad in ("230;5;60", "230;5;91;50", "x;5;0;50", "500;5;0;50"):
        assert b.write(BENCH_SOURCE, bad) is not None
        assert b.source == (230.0, 5.0, 60.0, 50.0)  # unchanged
    assert b.write(BENCH_SOURCE, "OFF") is None and b.source is None
