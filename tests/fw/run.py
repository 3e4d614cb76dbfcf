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
        # keep the heap for the next module: drop it and what it imported
        mod = fn = None  # (the last test function holds its module's globals)
        for k in list(sys.modules):
            if k not in loaded:
                del sys.modules[k]
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else 0)


main()
