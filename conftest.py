"""pytest set-up: firmware modules import as on the device (top level), and the
host fakes for `machine`, `micropython`, `esp32` stand in for the real ones."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
for sub in ("firmware", "host_sim/fakes", "tests/fw"):
    p = str(ROOT / sub)
    if p not in sys.path:
        sys.path.insert(0, p)
