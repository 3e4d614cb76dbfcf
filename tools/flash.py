"""Flash the firmware to a meter with ONE mpremote session that stops at the
first error (`make flash PORT=/dev/ttyUSB0 [CAL=FILE]`).

The chain: check that the board's MicroPython loads these .mpy files
(sys.implementation._mpy against the compiled headers), remove stale module
sources that would shadow the new .mpy files, copy every compiled module, the
calibration when given, and main.py (a tiny boot stub) last, so a board whose
copy was interrupted still boots the old main.py... then list what is there.

A running meter feeds its watchdog and owns its port: put it in maintenance
mode first (hold the button at power-up, or `--enter-maintenance`, which
writes the one-shot flag file and resets the board in a short session of its
own), so nothing resets the board under the copy.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "xtensawin"
FIRMWARE = ROOT / "firmware"
MPREMOTE = ROOT / ".venv" / "bin" / "mpremote"


class FlashError(Exception):
    pass


def mpy_header(path: Path) -> tuple[int, int, int]:
    """(version, sub-version, arch) from a .mpy file's header."""
    h = path.read_bytes()[:4]
    if len(h) < 4 or h[0] != ord("M"):
        raise FlashError(f"{path}: not a .mpy file")
    return h[1], h[2] & 3, h[2] >> 2


def check_expr(headers: list[tuple[int, int, int]]) -> str:
    """Python for the board: raise unless it can load every one of the files."""
    versions = {v for v, _, _ in headers}
    if len(versions) != 1:
        raise FlashError(f".mpy files of several versions: {sorted(versions)}")
    version = versions.pop()
    natives = {(s, a) for _, s, a in headers if a}
    lines = ["import sys", "v = sys.implementation._mpy",
             f"assert v & 255 == {version}, 'board loads .mpy v%d, these are v{version}: "
             "reflash MicroPython or rebuild with its mpy-cross' % (v & 255)"]
    for sub, arch in sorted(natives):
        lines.append(f"assert (v >> 8) & 3 == {sub} and v >> 10 == {arch}, "
                     f"'native code for arch {arch} sub-version {sub} does not fit this board'")
    lines.append("print('mpy ok', v)")
    return "; ".join(lines)


def plan(port: str, cal: Path | None, build: Path = BUILD, firmware: Path = FIRMWARE) -> list[str]:
    """The mpremote argument list of the single flashing session."""
    if cal is not None and not cal.is_file():
        raise FlashError(f"{cal}: calibration file not found")
    modules = sorted(p for p in build.glob("*.mpy") if p.stem != "main")
    if not modules:
        raise FlashError(f"{build}: no compiled firmware (run `make compile`)")
    sources = sorted(p.stem for p in firmware.glob("*.py"))
    missing = [s for s in sources if s != "main" and not (build / f"{s}.mpy").exists()]
    if missing:
        raise FlashError(f"{build}: not compiled: {', '.join(missing)} (run `make compile`)")
    if cal is not None and not cal.is_file():
        raise FlashError(f"{cal}: calibration file not found")
    stale = [m.stem + ".py" for m in modules]
    cmd = ["connect", port, "exec", check_expr([mpy_header(m) for m in modules])]
    cmd += ["+", "exec", "import os\nfor n in %r:\n    try:\n        os.remove(n)\n    except OSError:\n"
            "        pass" % (stale,)]
    for m in modules:
        cmd += ["+", "cp", str(m), f":{m.name}"]
    if cal is not None:
        cmd += ["+", "cp", str(cal), ":calibration.json"]
    cmd += ["+", "cp", str(firmware / "main.py"), ":main.py"]
    cmd += ["+", "exec", "import os; print(sorted(os.listdir()))"]
    return cmd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.flash", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB0")
    ap.add_argument("--cal", type=Path, help="calibration JSON to install as calibration.json")
    ap.add_argument("--enter-maintenance", action="store_true",
                    help="first write the maintenance flag and reset the board")
    ap.add_argument("--dry-run", action="store_true", help="print the mpremote command, run nothing")
    a = ap.parse_args(argv)
    try:
        cmd = plan(a.port, a.cal)
    except FlashError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.dry_run:
        print(" ".join([str(MPREMOTE), *cmd]))
        return 0
    if a.enter_maintenance:
        subprocess.run([str(MPREMOTE), "connect", a.port, "exec",
                        "open('maintenance.flag', 'w').close(); import machine; machine.reset()"],
                       check=False)  # the reset drops the connection: that is the point
        time.sleep(3)
    r = subprocess.run([str(MPREMOTE), *cmd])
    if r.returncode:
        print(f"error: mpremote stopped at the first failing step (exit {r.returncode}); "
              "the board's main.py is unchanged unless the last copy ran", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
