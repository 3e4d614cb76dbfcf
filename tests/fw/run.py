"""Firmware test runner for the MicroPython unix port (no pytest there).

Runs every test_* function of every tests/fw/test_*.py module and ends with the
line 'N passed, N failed, N skipped'. Exit status 1 if anything failed.
Usage: micropython tests/fw/run.py   (MICROPYPATH=firmware:tests/fw:.frozen)
"""
import gc
import os
import sys

from fwtest import SkipTest


def main():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    names = sorted(n[:-3] for n in os.listdir(here) if n.startswith("test_") and n.endswith(".py"))
    passed = failed = skipped = 0
    fn = None
    for name in names:
        loaded = set(sys.modules)
        gc.collect()  # compiling a module from source needs a big contiguous heap
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
        for m in [m for m in sys.modules if m not in loaded]:
            del sys.modules[m]  # let the collector take what a finished test module loaded
        mod = fn = None
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else 0)


main()
