"""Tiny test helpers that work under CPython (pytest) and MicroPython (run.py).

The firmware lane cannot use pytest or unittest on the unix port, so tests in
this folder are plain `test_*` functions that use only these helpers.
"""
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


class SkipTest(Exception):
    pass


def skip(why):
    try:
        import pytest  # CPython: let pytest report a real skip

        pytest.skip(why)
    except ImportError:
        raise SkipTest(why)


def raises(exc_type, fn, *args):
    """Call fn(*args); return the exception it raised, fail if it did not."""
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %r" % (exc_type.__name__, fn))


class Rng:
    """Deterministic xorshift32, identical on both interpreters."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n
