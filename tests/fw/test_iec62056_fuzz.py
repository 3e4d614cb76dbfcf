"""Random and mutated frames into the IEC 62056-21 port: nothing escapes, nothing
changes, the port keeps answering. `fuzz()` also runs at 100 000 frames in
`make bench` (tools/fuzz_console.py)."""
from fwtest import IS_MICROPYTHON, Rng
from iec_client import Session, frame


# --- fuzz ----------------------------------------------------------------------------
CORPUS = (
    b"/?!\r\n", b"/?12345678!\r\n", b"\x06051\r\n", b"\x06050\r\n",
    frame(b"R1", b"1.8.0()"), frame(b"W1", b"C.56.0(DISCONNECT)"), frame(b"P2", b"(0011223344556677)"),
    frame(b"W1", b"0-0:19.40.0(23716100501183194197)"), frame(b"B0"), frame(b"P1", b"(00000000)"),
)


def fuzz_frames(rng, count):
    """Random byte strings and mutated valid frames (byte flips, cuts, insertions)."""
    for k in range(count):
        if k % 3 == 0:
            n = rng.below(40)
            yield bytes(rng.below(256) for _ in range(n))
            continue
        f = bytearray(CORPUS[rng.below(len(CORPUS))])
        for _ in range(1 + rng.below(3)):
            op = rng.below(4)
            i = rng.below(len(f))
            if op == 0:
                f[i] = rng.below(256)
            elif op == 1:
                f[i] ^= 1 << rng.below(7)
            elif op == 2:
                f = f[:i]
                if not f:
                    f.append(rng.below(256))
            else:
                f = f[:i] + bytes([rng.below(256)]) + f[i:]
        yield bytes(f)


def fuzz(count, seed):
    """Feed count fuzz frames into a port in programming mode (not authenticated).
    Returns (frames, NAKs); asserts nothing escaped and nothing changed."""
    s = Session()
    s.challenge()
    before = dict(s.provider.values)
    rng = Rng(seed)
    naks = 0
    for k, f in enumerate(fuzz_frames(rng, count)):
        out = s.send(f, 250 if k % 50 else 2000)
        naks += out.count(b"\x15")
        if s.port.state_name() == "idle" or k % 97 == 0:
            s.send(frame(b"B0"))
            assert s.send(b"/?!\r\n") == b"/XXX5PPM1\r\n"  # still answering
            s.send(b"\x06051\r\n", 1200)
        assert s.port.last_error is None, s.port.last_error
        assert not s.port.authenticated
    assert s.provider.values == before
    assert s.provider.writes == []
    return count, naks


def test_fuzz_frames_nothing_escapes_nothing_changes():
    n = 400 if IS_MICROPYTHON else 1500
    frames, naks = fuzz(n, 11)
    assert naks > n // 10  # the frames really reached the frame parser


