"""Client side of the IEC 62056-21 tests on the in-memory line: frames built with
this file's own BCC and HMAC (independent of the firmware), and a Session that
drives one Iec62056Port with a fake provider through virtual time."""
from fake_provider import DictProvider, MemoryIO
from fwtest import Rng

import iec62056

KEY = b"0123456789abcdef-management-key!"
METER = "12345678"


def bcc(data):
    x = 0
    for b in data:
        x ^= b
    return x


def frame(cmd, body=None):
    """SOH cmd [STX body] ETX BCC, as a client sends it."""
    msg = b"\x01" + cmd + (b"\x02" + body if body is not None else b"") + b"\x03"
    return msg + bytes([bcc(msg[1:])])


def block(body):
    """STX body ETX BCC, as the meter answers a read."""
    return b"\x02" + body + b"\x03" + bytes([bcc(body + b"\x03")])


def ref_hmac(key, msg):
    """RFC 2104 written out again here, for the comparison."""
    import hashlib

    k = bytes(key) + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))
    outer.update(inner.digest())
    return outer.digest()


def to_hex(data):
    return "".join("%02x" % b for b in data).encode()


class Session:
    def __init__(self, provider=None, start_ms=0, accept=0, budget=120):
        self.io = MemoryIO(accept)
        self.provider = provider or DictProvider()
        self.now = start_ms
        self.port = iec62056.Iec62056Port(self.io, self.provider, KEY, METER, tx_budget=budget,
                                          random_bytes=self.rand)
        self.rng = Rng(7)

    def rand(self, n):
        return bytes(self.rng.below(256) for _ in range(n))

    def run(self, ms, step=10):
        """Advance ms of time, polling every step ms; returns what the meter sent."""
        end = self.now + ms
        while self.now < end:
            self.now += step
            self.port.poll(self.now & ((1 << 30) - 1))
        return self.io.take()

    def send(self, data, ms=300):
        self.io.inject(data)
        return self.run(ms)

    def sign_on(self, address=b"", mode=b"1"):
        ident = self.send(b"/?" + address + b"!\r\n")
        assert ident == b"/XXX5PPM1\r\n", ident
        out = self.send(b"\x060" + b"5" + mode + b"\r\n", 1200)
        return out

    def challenge(self):
        p0 = self.sign_on()
        assert p0[:4] == b"\x01P0\x02" and p0[-2:-1] == b"\x03", p0
        assert p0[-1] == bcc(p0[1:-1])
        return p0[5:-3]  # inside the parentheses

    def login(self, key=KEY):
        ch = self.challenge()
        reply = to_hex(ref_hmac(key, ch)[:8])
        return self.send(frame(b"P2", b"(" + reply + b")"))


def expected_readout(rows):
    body = b""
    for code, value, unit in rows:
        body += code.encode() + b"(" + value.encode() + ((b"*" + unit.encode()) if unit else b"") + b")\r\n"
    body += b"!\r\n\x03"
    return b"\x02" + body + bytes([bcc(body)])


