"""IEC 62056-21 mode C: HMAC, sign-on, identification and the data readout,
driven byte by byte through an in-memory line and a fake provider."""
from fake_provider import SAMPLE_VALUES, CountingIO, DictProvider
from fwtest import IS_MICROPYTHON, skip
from iec_client import Session, bcc, expected_readout, ref_hmac, to_hex

import hmac_sha256


# --- HMAC -------------------------------------------------------------------
def test_hmac_matches_rfc4231_case_2():
    mac = hmac_sha256.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert to_hex(mac) == b"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_long_key_is_hashed_first():
    key = bytes(range(131))  # RFC 4231 case 6 shape: key longer than the block
    import hashlib

    assert hmac_sha256.hmac_sha256(key, b"m") == ref_hmac(hashlib.sha256(key).digest(), b"m")


# --- sign-on, identification, readout ------------------------------------------
def test_sign_on_without_address_gets_identification_after_reaction_time():
    s = Session()
    s.io.inject(b"/?!\r\n")
    assert s.run(190) == b""  # not before 200 ms
    assert s.run(30) == b"/XXX5PPM1\r\n"


def test_sign_on_with_our_address_answers_another_address_is_silent():
    s = Session()
    assert s.send(b"/?12345678!\r\n") == b"/XXX5PPM1\r\n"
    s2 = Session()
    assert s2.send(b"/?12345679!\r\n") == b""
    assert s2.send(b"/?1234567!\r\n") == b""
    assert s2.port.state_name() == "idle"


def test_readout_streams_every_line_with_bcc_and_switches_baud():
    s = Session(accept=7, budget=40)  # a slow line: partial writes
    s.send(b"/?!\r\n")
    s.io.inject(b"\x06050\r\n")
    assert s.run(990) == b""  # the pause after the ACK: the client reopens its port
    out = s.run(20000)
    assert out == expected_readout(SAMPLE_VALUES)
    assert s.io.bauds == [300, 9600, 300]
    assert s.port.state_name() == "idle"


def test_readout_at_a_lower_rate_the_client_chose():
    s = Session()
    s.send(b"/?!\r\n")
    s.send(b"\x06030\r\n", 3000)
    assert s.io.bauds == [300, 2400, 300]


def test_option_select_above_offered_rate_or_binary_mode_ends_session():
    for ack in (b"\x06060\r\n", b"\x06052\r\n"):
        s = Session()
        s.send(b"/?!\r\n")
        assert s.send(ack, 3000) == b""
        assert s.port.state_name() == "idle"


def test_no_ack_returns_to_idle_after_timeout():
    s = Session()
    s.send(b"/?!\r\n")
    assert s.port.state_name() == "wait_ack"
    s.run(3100)
    assert s.port.state_name() == "idle"


def test_readout_marks_unknown_and_unclean_values():
    p = DictProvider((("1.8.0", "12(3)", "k/Wh"), ("9.9.9", "x", None)))
    del p.values["9.9.9"]  # listed but unknown now
    s = Session(p)
    s.send(b"/?!\r\n")
    out = s.send(b"\x06050\r\n", 3000)
    assert out == b"\x02" + b"1.8.0(12?3?*k?Wh)\r\n9.9.9(ERROR)\r\n!\r\n\x03" + bytes(
        [bcc(b"1.8.0(12?3?*k?Wh)\r\n9.9.9(ERROR)\r\n!\r\n\x03")])


# --- memory ----------------------------------------------------------------------------
def test_idle_poll_allocates_nothing():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    s = Session()
    s.run(100)
    now = s.now
    micropython.heap_lock()
    try:
        for _ in range(100):
            now += 100
            s.port.poll(now)
    finally:
        micropython.heap_unlock()
    assert s.port.state_name() == "idle"


def test_whole_readout_allocates_nothing_with_stored_values():
    """Sign-on to idle under heap_lock: the protocol streams from preallocated
    buffers (a provider that formats values allocates on its own account)."""
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    import iec62056

    io = CountingIO()
    port = iec62056.Iec62056Port(io, DictProvider(), b"k" * 16, "12345678")
    now = 0
    sent = 0
    for _ in range(2):  # the first pass may create attributes; the second is measured
        io.sent = 0
        micropython.heap_lock()
        try:
            io.load(b"/?!\r\n")
            for _ in range(30):
                now += 10
                port.poll(now)
            io.load(b"\x06050\r\n")
            for _ in range(400):
                now += 10
                port.poll(now)
        finally:
            micropython.heap_unlock()
        sent = io.sent
    assert port.last_error is None and port.state_name() == "idle"
    assert sent == len(b"/XXX5PPM1\r\n") + len(expected_readout(SAMPLE_VALUES))
