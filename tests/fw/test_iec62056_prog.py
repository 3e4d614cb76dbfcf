"""IEC 62056-21 programming mode: P0/P2 challenge-response, lockout, R1, W1,
token entry, B0, timeouts, bad frames."""
from fake_provider import SAMPLE_VALUES, DictProvider, MemoryIO
from iec_client import KEY, METER, Session, block, frame, ref_hmac, to_hex

import iec62056


# --- programming mode ---------------------------------------------------------------
def test_break_frame_bcc_is_the_spec_example():
    assert frame(b"B0") == b"\x01B0\x03\x71"


def test_r1_reads_every_readout_code():
    s = Session()
    s.challenge()
    for code, value, unit in SAMPLE_VALUES:
        out = s.send(frame(b"R1", code.encode() + b"()"))
        want = code.encode() + b"(" + value.encode() + ((b"*" + unit.encode()) if unit else b"") + b")"
        assert out == block(want), (code, out)
    assert s.send(frame(b"R1", b"7.7.7()")) == block(b"(ERROR)")


def test_write_refused_without_session_and_provider_not_called():
    s = Session()
    s.challenge()
    assert s.send(frame(b"W1", b"C.56.0(DISCONNECT)")) == b"\x15"
    assert s.provider.writes == []
    assert s.provider.values["0-0:96.3.10"] == ("CONNECTED", None)


def test_good_p2_opens_writes():
    s = Session()
    assert s.login() == b"\x06"
    assert s.send(frame(b"W1", b"C.56.0(DISCONNECT)")) == b"\x06"
    assert s.provider.writes == [("C.56.0", "DISCONNECT")]
    assert s.send(frame(b"W1", b"1.8.0(0)")) == b"\x15"  # provider refuses: read-only
    assert s.port.last_refusal == "W1 1.8.0: read-only"


def test_p2_reply_accepted_in_upper_case_hex():
    s = Session()
    ch = s.challenge()
    reply = to_hex(ref_hmac(KEY, ch)[:8]).upper()
    assert s.send(frame(b"P2", b"(" + reply + b")")) == b"\x06"


def test_wrong_p2_refused_and_lockout_grows():
    s = Session()
    assert s.login(key=b"not the meter's key, wrong one!!") == b"\x15"
    assert s.send(frame(b"W1", b"C.56.0(DISCONNECT)")) == b"\x15"
    assert s.send(frame(b"R1", b"C.90.0()")) == block(b"C.90.0(5*s)")
    s.send(frame(b"B0"))
    # the right key while locked out is refused too, and does not count
    assert s.login() == b"\x15"
    assert s.send(frame(b"R1", b"C.90.1()")) == block(b"C.90.1(1)")
    s.run(5000)
    assert s.login(key=b"not the meter's key, wrong one!!") == b"\x15"
    assert s.send(frame(b"R1", b"C.90.0()")) == block(b"C.90.0(10*s)")  # doubled
    s.run(10000)
    assert s.login() == b"\x06"
    assert s.send(frame(b"R1", b"C.90.1()")) == block(b"C.90.1(0)")
    assert s.provider.writes == []


def test_lockout_is_capped_at_one_hour():
    s = Session()
    wrong = b"not the meter's key, wrong one!!"
    for _ in range(14):
        s.login(key=wrong)
        s.send(frame(b"B0"))
        s.run(3600 * 1000, step=5000)
    assert s.port.auth_failures == 14
    s.login(key=wrong)
    assert s.send(frame(b"R1", b"C.90.0()")) == block(b"C.90.0(3600*s)")


def test_a_challenge_answers_once():
    s = Session()
    ch = s.challenge()
    reply = b"(" + to_hex(ref_hmac(KEY, ch)[:8]) + b")"
    assert s.send(frame(b"P2", reply)) == b"\x06"
    assert s.send(frame(b"P2", reply)) == b"\x15"
    assert not s.port.authenticated


def test_p1_password_grants_nothing():
    s = Session()
    s.challenge()
    assert s.send(frame(b"P1", b"(00000000)")) == b"\x15"
    assert s.send(frame(b"W1", b"C.56.0(DISCONNECT)")) == b"\x15"


def test_token_entry_without_session_carries_the_result():
    s = Session()
    s.provider.token_results["23716100501183194197"] = "ACCEPT"
    s.challenge()
    out = s.send(frame(b"W1", b"0-0:19.40.0(23716100501183194197)"))
    assert out == block(b"0-0:19.40.0(ACCEPT)")
    out = s.send(frame(b"W1", b"0-0:19.40.0(23716100501183194198)"))
    assert out == block(b"0-0:19.40.0(CRC)")
    assert s.provider.tokens == ["23716100501183194197", "23716100501183194198"]


def test_malformed_token_is_format_and_never_reaches_provider():
    s = Session()
    s.challenge()
    for digits in (b"2371610050118319419", b"237161005011831941970", b"2371610050118319419x"):
        assert s.send(frame(b"W1", b"0-0:19.40.0(" + digits + b")")) == block(b"0-0:19.40.0(FORMAT)")
    assert s.provider.tokens == []


def test_bad_bcc_and_bad_shape_get_nak_and_change_nothing():
    s = Session()
    s.login()
    good = frame(b"W1", b"C.56.0(DISCONNECT)")
    assert s.send(good[:-1] + bytes([good[-1] ^ 1])) == b"\x15"
    for body in (b"C.56.0DISCONNECT", b"C.56.0(DIS(CONNECT)", b"(DISCONNECT)", b"C.56.0(A\x07)"):
        assert s.send(frame(b"W1", body)) == b"\x15", body
    assert s.provider.writes == []
    assert s.port.authenticated  # a bad frame does not end the session


def test_break_ends_session_and_returns_to_300():
    s = Session()
    s.login()
    assert s.send(frame(b"B0")) == b""
    assert s.port.state_name() == "idle"
    assert s.io.bauds[-1] == 300
    assert not s.port.authenticated


def test_programming_mode_times_out_after_a_minute_without_frames():
    s = Session()
    s.login()
    s.run(59000, step=500)
    assert s.port.state_name() == "prog"
    s.run(2000, step=500)
    assert s.port.state_name() == "idle" and not s.port.authenticated


def test_half_frame_is_forgotten_after_char_timeout():
    s = Session()
    s.challenge()
    s.send(b"\x01R1\x021.8.0(", 2000)
    assert s.send(frame(b"R1", b"1.8.0()")) == block(b"1.8.0(001234.567*kWh)")


def test_session_across_ticks_wrap():
    s = Session(start_ms=(1 << 30) - 700)
    assert s.login() == b"\x06"
    assert s.send(frame(b"R1", b"0.0.0()")) == block(b"0.0.0(12345678)")


def test_new_sign_on_in_programming_mode_starts_over():
    s = Session()
    s.login()
    assert s.send(b"/?!\r\n") == b"/XXX5PPM1\r\n"
    assert not s.port.authenticated


def test_provider_exception_answers_error_and_is_kept():
    class Broken(DictProvider):
        def read(self, code):
            raise OSError(5)

    s = Session(Broken())
    s.challenge()
    assert s.send(frame(b"R1", b"1.8.0()")) == block(b"(ERROR)")
    assert "OSError" in str(s.port.last_error)


def test_constructor_refuses_bad_settings():
    from fwtest import raises

    io = MemoryIO()
    p = DictProvider()
    e = raises(ValueError, iec62056.Iec62056Port, io, p, b"short", METER)
    assert "key" in str(e)
    e = raises(ValueError, iec62056.Iec62056Port, io, p, KEY, METER, "", "7")
    assert "baud_char" in str(e)




def test_a_frame_whose_bcc_is_soh_is_answered():
    # found by calibrating through the port: W1 C.63.18(-50) has BCC 0x01 (SOH),
    # which must be taken as the BCC, not as the start of a new frame
    s = Session()
    assert s.login() == b"\x06"
    f = b""
    body = b""
    for a in range(0x41, 0x5B):  # a two-letter value whose frame ends in BCC 0x01
        for b in range(0x41, 0x5B):
            body = b"C.56.0(" + bytes([a, b]) + b")"
            f = frame(b"W1", body)
            if f[-1] == 0x01:
                break
        if f[-1] == 0x01:
            break
    assert f[-1] == 0x01, f
    assert s.send(f) == b"\x06"
    assert s.provider.writes[-1] == ("C.56.0", body[7:-1].decode())
