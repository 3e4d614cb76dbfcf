"""Test fakes for the technician port: a register provider over a plain dict and
an in-memory io. They stand in for the meter so the protocol is what is tested;
they are not the meter's registers (the application's provider is).
Runs under CPython and the MicroPython unix port.
"""

# Every code of iec62056-21.md's table with a plausible value, in readout order.
SAMPLE_VALUES = (
    ("0.0.0", "12345678", None),
    ("C.1.0", "PPM1-000042", None),
    ("0.9.1", "13:55:00", None),
    ("0.9.2", "26-12-01", None),
    ("1.8.0", "001234.567", "kWh"),
    ("1.8.1", "000800.000", "kWh"),
    ("1.8.2", "000400.000", "kWh"),
    ("1.8.3", "000034.567", "kWh"),
    ("1.8.4", "000000.000", "kWh"),
    ("2.8.0", "000001.250", "kWh"),
    ("1.7.0", "02.200", "kW"),
    ("16.7.0", "02.200", "kW"),
    ("32.7.0", "230.1", "V"),
    ("31.7.0", "9.56", "A"),
    ("14.7.0", "50.00", "Hz"),
    ("13.7.0", "1.00", None),
    ("0-0:96.14.0", "2", None),
    ("0-0:96.3.10", "CONNECTED", None),
    ("0-0:19.10.0", "00123.45", "kWh"),
    ("F.F", "00000000", None),
    ("C.50.0", "000123.456", "kWh"),
    ("C.51.0", "2", None),
    ("C.52.0", "0.2500", None),
    ("C.53.0", "0.00", None),
    ("C.54.0", "OK", None),
    ("1.8.0*01", "001200.000", "kWh"),
    ("1.8.0*02", "001100.000", "kWh"),
)

WRITABLE = ("0-0:1.0.0", "C.55.0", "C.56.0", "C.57.0", "C.58.0")


class DictProvider:
    """Fake provider: reads from a dict, writes to it (only WRITABLE codes),
    and answers tokens from a dict of digits -> result (default 'CRC')."""

    def __init__(self, rows=SAMPLE_VALUES, writable=WRITABLE):
        self.values = {}
        order = []
        for code, value, unit in rows:
            self.values[code] = (value, unit)
            order.append(code)
        self.order = tuple(order)
        self.writable = writable
        self.writes = []
        self.tokens = []
        self.token_results = {}

    def readout_codes(self):
        return self.order

    def read(self, code):
        return self.values.get(code)

    def write(self, code, value):
        if code not in self.writable:
            return "read-only"
        self.values[code] = (value, None)
        self.writes.append((code, value))
        return None

    def token(self, digits):
        self.tokens.append(digits)
        return self.token_results.get(digits, "CRC")


class MemoryIO:
    """In-memory line: `inject(bytes)` what the client sends, `take()` what the
    meter wrote. write() accepts at most `accept` bytes per call (0: all)."""

    def __init__(self, accept=0):
        self.rx = bytearray()
        self.tx = bytearray()
        self.bauds = []
        self.accept = accept

    def inject(self, data):
        self.rx.extend(data)

    def take(self):
        out = bytes(self.tx)
        self.tx = bytearray()
        return out

    def read_into(self, buf):
        if not self.rx:
            return 0  # allocation-free when idle (heap_lock tests)
        n = min(len(buf), len(self.rx))
        for i in range(n):
            buf[i] = self.rx[i]
        self.rx = self.rx[n:]
        return n

    def write(self, buf, off, n):
        if self.accept:
            n = min(self.accept, n)
        self.tx.extend(bytes(buf[off:off + n]))
        return n

    def set_baud(self, baud):
        self.bauds.append(baud)


class CountingIO:
    """Allocation-free line: requests from a preallocated buffer, replies counted."""

    def __init__(self):
        self.rx = bytearray(64)
        self.rx_n = 0
        self.rx_pos = 0
        self.sent = 0

    def load(self, data):
        self.rx[0:len(data)] = data
        self.rx_n = len(data)
        self.rx_pos = 0

    def read_into(self, buf):
        n = self.rx_n - self.rx_pos
        if n <= 0:
            return 0
        if n > len(buf):
            n = len(buf)
        for i in range(n):
            buf[i] = self.rx[self.rx_pos + i]
        self.rx_pos += n
        return n

    def write(self, buf, off, n):
        self.sent += n
        return n

    def set_baud(self, baud):
        pass
