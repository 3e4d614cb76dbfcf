"""The meter's one event ring: every module logs here, storage persists it.

Preallocated, fixed size: recording an event in steady state allocates nothing
(kind and source are interned string constants, detail a small int or a
string the caller already has). An event that repeats the newest one (same
kind, source and detail) only bumps that entry's count, so a service failing
every pass cannot flush the history out of the ring.
Time is the wall clock as (day, sod), see clock.py, plus monotonic ms.
"""
from micropython import const

SIZE = const(64)  # entries kept in RAM (storage keeps a longer history in flash)


class EventLog:
    def __init__(self, clock, size=SIZE):
        self._clock = clock
        self.size = size
        self.seq = 0  # events recorded since boot (index of the next slot, unwrapped)
        self.kind = [""] * size
        self.source = [""] * size
        self.detail: list = [0] * size
        self.count = [0] * size  # how many times in a row this entry happened
        self.day = [0] * size
        self.sod = [0] * size
        self.ms = [0] * size
        self.clock_valid = [False] * size

    def log(self, kind, source, detail: object = 0):
        """Record one event; returns its slot index."""
        if self.seq:
            i = (self.seq - 1) % self.size
            if self.kind[i] == kind and self.source[i] == source and self.detail[i] == detail:
                self.count[i] += 1
                return i
        i = self.seq % self.size
        c = self._clock
        self.kind[i] = kind
        self.source[i] = source
        self.detail[i] = detail
        self.count[i] = 1
        self.day[i] = c.day
        self.sod[i] = c.sod
        self.ms[i] = c.now_ms
        self.clock_valid[i] = c.valid
        self.seq += 1
        return i

    def __len__(self):
        return self.seq if self.seq < self.size else self.size

    def entry(self, k):
        """k-th oldest entry still held: (day, sod, kind, source, detail, count)."""
        n = len(self)
        if not 0 <= k < n:
            raise IndexError("event %d of %d" % (k, n))
        i = (self.seq - n + k) % self.size
        return (self.day[i], self.sod[i], self.kind[i], self.source[i], self.detail[i], self.count[i])

    def newest(self):
        return self.entry(len(self) - 1) if self.seq else None

    def entries(self):
        """Oldest first (allocates: for reports and the console, not the tick)."""
        return [self.entry(k) for k in range(len(self))]

    def find(self, kind, source=None):
        """Newest entry of this kind (and source), or None."""
        k = len(self) - 1
        while k >= 0:
            e = self.entry(k)
            if e[2] == kind and (source is None or e[3] == source):
                return e
            k -= 1
        return None
