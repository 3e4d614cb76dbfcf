"""Firmware test runner for the MicroPython unix port (no pytest there).

Runs every test_* function of every tests/fw/test_*.py module and ends with the
line 'N passed, N failed, N skipped'. Exit status 1 if anything failed.
Usage: micropython tests/fw/run.py   (MICROPYPATH=firmware:tests/fw:.frozen)
Each test module is unloaded after it ran, so the heap it needs is the
firmware's plus one module's (make test-esp32 runs it in 56 KB).
Usage: micropython tests/fw/run.py [MODULE ...] [--without MODULE ...]
(MICROPYPATH=firmware:tests/fw:.frozen). Named modules run alone; --without
leaves a module out (the storage tests get a process, and a heap, of their own).
"""
import gc
import os
import sys

from fwtest import SkipTest


def main():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    names = sorted(n[:-3] for n in os.listdir(here) if n.startswith("test_") and n.endswith(".py"))
    args = sys.argv[1:]
    only = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] != "--without")]
    without = [args[i + 1] for i, a in enumerate(args) if a == "--without" and i + 1 < len(args)]
    for n in only + without:
        if n not in names:
            print("run.py: no test module %s in %s" % (n, here))
            sys.exit(2)
    names = [n for n in names if (not only or n in only) and n not in without]
    passed = failed = skipped = 0
    base = set(sys.modules)
    for name in names:
        gc.collect()
        loaded = list(sys.modules)
        mod = __import__(name)
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            fn = getattr(mod, attr)
            try:
                fn()
            except SkipTest as e:
                skipped += 1
                print("SKIP %s.%s: %s" % (name, attr, e))
            except Exception as e:  # report and go on: one failure hides nothing
                failed += 1
                print("FAIL %s.%s: %s: %s" % (name, attr, type(e).__name__, e))
                sys.print_exception(e) if hasattr(sys, "print_exception") else None
            else:
                passed += 1
                print("ok   %s.%s" % (name, attr))
        # Drop the test module once run: the heap then holds the firmware and
        # one test module, not every test written so far (the ESP32 lane runs
        # the tests in the device's boot heap).
        del sys.modules[name]
        # Unload what this module brought in, so the next one compiles in a
        # clean ESP32-sized heap (source compiles need far more than .mpy loads).
        for m in [m for m in sys.modules if m not in base]:
            del sys.modules[m]
        mod = fn = None
        gc.collect()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else 0)


main()
