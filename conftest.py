"""pytest set-up: firmware modules import as on the device (top level), and the
host fakes for `machine`, `micropython`, `esp32` stand in for the real ones."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
for sub in ("firmware", "host_sim/fakes", "tests/fw"):
    p = str(ROOT / sub)
    if p not in sys.path:
        sys.path.insert(0, p)

# CI runs hypothesis derandomized (the same examples every run): a red CI then
# always means a change broke something; exploration runs on developers' machines.
import os  # noqa: E402

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
