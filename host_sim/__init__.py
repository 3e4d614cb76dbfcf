"""CPython-only simulator: ADE7753 model, analog front end, fakes, replay.

Importing host_sim makes the firmware modules importable the way the device
sees them (top-level names) and puts the host fakes of `machine`,
`micropython` and `esp32` on the path. The fakes are never deployed.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = ROOT / "firmware"
FAKES_DIR = Path(__file__).resolve().parent / "fakes"
for _p in (str(FIRMWARE_DIR), str(FAKES_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)
