"""tools.sts (the vending tool): CLI contract, published vectors, DKGA02/DKGA04,
and cross-checks between its integer STA and the firmware's byte-wise one."""
import datetime as dt
import json

import pytest
import sts as fw  # firmware/sts.py
import tokens
from hypothesis import given, settings
from hypothesis import strategies as st

from tools import sts as tool

KEY = "6ff35b9d1f3453e6"  # DKGA02: vending key abab..ab, KT 2, SGC 123456, TI 01, KRN 1, PAN 600727000000000009
KEYB = bytes.fromhex(KEY)
VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
PAN = "600727000000000009"


def tid1993(*when: int) -> int:
    """Minutes since 1993-01-01 00:00, worked out here with the standard library."""
    return int((dt.datetime(*when) - dt.datetime(1993, 1, 1)).total_seconds()) // 60


# STS 531-1-0-02 compliance tokens (DKGA02 key above, base date 1993, RND 5):
# (case, class, subclass, issue time, amount field, token)
CTSA = [
    ("CTSA01 0.1 kWh", 0, 0, (2004, 3, 1, 13, 55), 1, "23716100501183194197"),
    ("CTSA03 1000 W", 2, 0, (2004, 3, 28, 9, 1), 1000, "50901894209860263092"),
    ("CTSA04 clear credit all", 2, 1, (2004, 3, 28, 9, 15), 0xFFFF, "29511990995826640868"),
    ("CTSA06 clear tamper", 2, 5, (2004, 3, 28, 10, 0), 0, "37037300014464855694"),
    ("CTSA07 phase unbalance 10", 2, 6, (2004, 3, 28, 10, 20), 10, "30220533115430798647"),
    ("CTSA10 25.6 kWh", 0, 0, (2004, 4, 1, 0, 30), 256, "26456622012185850752"),
    ("CTSA10 1638.3 kWh", 0, 0, (2004, 4, 1, 0, 35), 16383, "02194538019157867319"),
    ("CTSA10 1638.4 kWh", 0, 0, (2004, 4, 1, 0, 40), 0x4000, "49848950875249585071"),
    ("CTSA10 1820162.4 kWh", 0, 0, (2004, 4, 1, 1, 54), 0xFFFF, "42222423067848970276"),
    ("CTSA12 256 W", 2, 0, (2004, 4, 1, 7, 0), 256, "41932934023937597177"),
    ("CTSA12 16384 W", 2, 0, (2004, 4, 1, 7, 10), 0x4000, "49726922948713857933"),
]


@pytest.mark.parametrize("case,cls,sub,when,raw,token", CTSA, ids=[c[0] for c in CTSA])
def test_compliance_tokens_host_encoder_and_firmware_decoder(case, cls, sub, when, raw, token):
    tid = tid1993(*when)
    assert tool.token_from_block(cls, tool.make_block(cls, sub, 5, tid, raw), KEYB) == token
    d = fw.Decoder()
    assert d.decode(token, KEYB) == fw.OK
    assert (d.cls, d.subclass, d.rnd, d.tid, d.amount_raw) == (cls, sub, 5, tid, raw)


def test_dkga02_vector_and_a_second_pan():
    assert tool.dkga02(VK02, 2, "123456", 1, 1, PAN).hex() == KEY
    # CTSA01 step 2: PAN 000001000000000082, 2004-03-01 14:00, 0.1 kWh
    k2 = tool.dkga02(VK02, 2, "123456", 1, 1, "000001000000000082")
    assert tool.token_from_block(0, tool.make_block(0, 0, 5, tid1993(2004, 3, 1, 14, 0), 1), k2) == \
        "67206107716095682372"


@pytest.mark.parametrize("base_date,krn,when,token", [
    (1993, 1, (2009, 1, 1, 8, 0), "15697331168573253829"),
    (2014, 4, (2014, 1, 1, 8, 0), "20324881626382980759"),
    (2035, 5, (2035, 1, 1, 8, 0), "09239624803025986815"),
])
def test_dkga04_at_every_base_date_gives_the_compliance_token(base_date, krn, when, token):
    # STS 531-1-0-02 CTSA25: DKGA04 key (SGC 123457, TI 01, KT 2), STA, 0.1 kWh, RND 5
    key = tool.dkga04(VK04, 2, "123457", 1, krn, PAN, base_date)
    tid = int((dt.datetime(*when) - dt.datetime(base_date, 1, 1)).total_seconds()) // 60
    assert tool.token_from_block(0, tool.make_block(0, 0, 5, tid, 1), key) == token
    d = fw.Decoder()
    assert d.decode(token, key) == fw.OK and d.tid == tid


def test_dkga04_depends_on_each_input():
    base = tool.dkga04(VK04, 2, "123457", 1, 1, PAN, 2014)
    variants = [tool.dkga04(VK04, 2, "123457", 1, 1, PAN, bd) for bd in (1993, 2035)]
    variants += [tool.dkga04(VK04, 1, "123457", 1, 1, PAN, 2014), tool.dkga04(VK04, 2, "123458", 1, 1, PAN, 2014),
                 tool.dkga04(VK04, 2, "123457", 2, 1, PAN, 2014), tool.dkga04(VK04, 2, "123457", 1, 2, PAN, 2014),
                 tool.dkga04(VK04, 2, "123457", 1, 1, "000001000000000082", 2014)]
    assert len({base, *variants}) == len(variants) + 1


def test_key_change_compliance_pairs():
    # CTSA05: KEY (TI 01) -> the same meter's key at TI 02, and back; KEN 255, KRN 1, KT 2
    ti2 = tool.dkga02(VK02, 2, "123456", 2, 1, PAN)
    assert tool.key_change_tokens(KEYB, ti2, 2, 1, 2, 255, False) == ("51638423060042734509", "15361891762113502242")
    assert tool.key_change_tokens(ti2, KEYB, 2, 1, 1, 255, False) == ("26553210520543055412", "00943705441908264439")


def test_crc_example_and_amount_largest_credit():
    block = tool.make_block(0, 0, 0b0101, 0b110000000010101001010101, 0x2710)
    assert block & 0xFFFF == 0x1970
    assert tool.amount_value(0xFFFF) == 18_201_624  # 1 820 162.4 kWh


def test_class1_test_tokens_are_plain():
    # CTSA02/CTSA11: subclass 0, 8-bit manufacturer code 0, control bit 0 / 36 ones
    b = (0 << 60) | (1 << 24)
    assert tool.token_from_block(1, b | tool.block_crc(1, b), KEYB) == "00000000000150997584"
    b = (0 << 60) | ((2**36 - 1) << 24)
    assert tool.token_from_block(1, b | tool.block_crc(1, b), KEYB) == "56493153725450313471"


fields = st.tuples(st.sampled_from([0, 2]), st.integers(0, 15), st.integers(0, 15), st.integers(0, 2**24 - 1),
                   st.integers(0, 0xFFFF))
keys = st.binary(min_size=8, max_size=8)


@settings(max_examples=150, deadline=None)
@given(fields, keys)
def test_host_encode_then_firmware_decode_is_identity(f, key):
    cls, sub, rnd, tid, raw = f
    token = tool.token_from_block(cls, tool.make_block(cls, sub, rnd, tid, raw), key)
    d = fw.Decoder()
    assert d.decode(token, key) == fw.OK
    assert (d.cls, d.subclass, d.rnd, d.tid, d.amount_raw) == f
    # and the firmware's encoder writes the same digits
    assert fw.encode(cls, d.block, key) == token
    assert tool.decode(token, key).fields["crc_ok"]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**64 - 1), keys)
def test_integer_sta_and_bytewise_sta_agree(block, key):
    c = tool.sta_encrypt(block, key)
    buf = bytearray(block.to_bytes(8, "little"))
    fw.encrypt_block(buf, key, bytearray(8), bytearray(8))
    assert int.from_bytes(buf, "little") == c
    fw.decrypt_block(buf, key, bytearray(8), bytearray(8))
    assert int.from_bytes(buf, "little") == block == tool.sta_decrypt(c, key)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**20 - 1))
def test_any_20_digit_string_parses_like_python_int(n):
    token = "%020d" % n
    d = fw.Decoder()
    ok = d._parse(token.encode())
    assert ok == (n < 2**66)
    if ok:
        cls = ((n >> 28) & 1) << 1 | ((n >> 27) & 1)
        c = (n & (2**64 - 1) & ~(3 << 27)) | ((n >> 65) & 1) << 28 | ((n >> 64) & 1) << 27
        assert d.cls == cls and int.from_bytes(d.block, "little") == c


def test_random_digit_strings_never_credit_ci_sized():
    """2 000 random strings through the gateway (`make bench` does 100 000)."""
    import random

    from tools.sts_fuzz import random_tokens

    r = random_tokens(2000, random.Random(1))
    assert r["tried"] == 2000 and r["credited"] == 0 and r["balance_changed"] == 0


# --- the command line --------------------------------------------------------------
def test_cli_decode_json_has_the_contract_fields(run_cli):
    p = run_cli("decode", "23716100501183194197", "--key", KEY, "--json", module="tools.sts")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {k: out[k] for k in ("class", "subclass", "rnd", "tid", "amount_raw", "crc_ok", "value")} == \
        {"class": 0, "subclass": 0, "rnd": 5, "tid": 5871715, "amount_raw": 1, "crc_ok": True, "value": 0.1}


def test_cli_decode_with_a_wrong_key_says_crc_false_and_exits_1(run_cli):
    p = run_cli("decode", "23716100501183194197", "--key", "896745f3de12bc0a", "--json", module="tools.sts")
    assert p.returncode == 1 and json.loads(p.stdout)["crc_ok"] is False


def test_cli_encode_and_decoder_key(run_cli):
    p = run_cli("encode", "--key", KEY, "--class", "0", "--subclass", "0", "--tid", "5871715", "--amount-raw", "1",
                "--rnd", "5", module="tools.sts")
    assert (p.returncode, p.stdout) == (0, "23716100501183194197\n")
    p = run_cli("decoder-key", "--algorithm", "dkga02", "--vending-key", "abababababababab", "--kt", "2", "--sgc",
                "123456", "--ti", "1", "--krn", "1", "--pan", PAN, module="tools.sts")
    assert (p.returncode, p.stdout) == (0, KEY + "\n")
    p = run_cli("decoder-key", "--algorithm", "dkga04", "--vending-key", VK04.hex(), "--kt", "2", "--sgc", "123457",
                "--ti", "1", "--krn", "4", "--pan", PAN, "--base-date", "2014", module="tools.sts")
    assert p.returncode == 0 and p.stdout.strip() == tool.dkga04(VK04, 2, "123457", 1, 4, PAN, 2014).hex()


def test_cli_helpers_print_what_raw_fields_give(capsys):
    tid = int((dt.datetime(2026, 12, 1, 8) - dt.datetime(2014, 1, 1)).total_seconds()) // 60
    tool.main(["encode", "--key", KEY, "--kwh", "25.6", "--date", "2026-12-01T08:00", "--rnd", "3"])
    tool.main(["encode", "--key", KEY, "--tid", str(tid), "--amount-raw", "256", "--rnd", "3"])
    tool.main(["encode", "--key", KEY, "--subclass", "4", "--currency", "12.34", "--tid", "9", "--rnd", "0"])
    tool.main(["encode", "--key", KEY, "--subclass", "4", "--amount-raw", "1234", "--tid", "9", "--rnd", "0"])
    tool.main(["encode", "--key", KEY, "--class", "2", "--watts", "180224", "--tid", "9", "--rnd", "0"])
    a, b, c, d, e = capsys.readouterr().out.split()
    assert a == b and c == d
    dec = fw.Decoder()
    assert dec.decode(e, KEYB) == fw.OK and dec.amount_raw == 0x8000


BAD = [
    (["decode", "2371610050118319419", "--key", KEY], "20 decimal digits"),
    (["decode", "99999999999999999999", "--key", KEY], "2^66"),
    (["decode", "23716100501183194197", "--key", "6ff35b9d1f3453"], "need 16"),
    (["decode", "23716100501183194197", "--key", "6ff35b9d1f3453zz"], "not hexadecimal"),
    (["encode", "--key", KEY, "--class", "4", "--tid", "1", "--amount-raw", "1"], "--class 4 is outside 0..3"),
    (["encode", "--key", KEY, "--subclass", "16", "--tid", "1", "--amount-raw", "1"], "--subclass 16"),
    (["encode", "--key", KEY, "--tid", str(2**24), "--amount-raw", "1"], "--tid 16777216"),
    (["encode", "--key", KEY, "--tid", "1", "--amount-raw", "65536"], "--amount-raw 65536"),
    (["encode", "--key", KEY, "--tid", "1", "--amount-raw", "1", "--rnd", "16"], "--rnd 16"),
    (["encode", "--key", KEY, "--tid", "1"], "exactly one of"),
    (["encode", "--key", KEY, "--tid", "1", "--kwh", "0.05"], "0.1 units"),
    (["encode", "--key", KEY, "--tid", "1", "--kwh", "1820162.5"], "outside"),
    (["encode", "--key", KEY, "--date", "1990-01-01T00:00", "--kwh", "1"], "outside the TID range"),
    (["encode", "--key", KEY, "--date", "yesterday", "--kwh", "1"], "ISO"),
    (["encode", "--key", KEY, "--tid", "x", "--kwh", "1"], "invalid int"),
    (["decoder-key", "--algorithm", "dkga02", "--vending-key", "abab", "--kt", "2", "--sgc", "123456", "--ti", "1",
      "--krn", "1", "--pan", PAN], "need 16"),
    (["decoder-key", "--algorithm", "dkga04", "--vending-key", "abababababababab", "--kt", "2", "--sgc", "123456",
      "--ti", "1", "--krn", "1", "--pan", PAN], "need 40"),
    (["decoder-key", "--algorithm", "dkga02", "--vending-key", "abababababababab", "--kt", "2", "--sgc", "12345",
      "--ti", "1", "--krn", "1", "--pan", PAN], "--sgc"),
    (["decoder-key", "--algorithm", "dkga02", "--vending-key", "abababababababab", "--kt", "2", "--sgc", "123456",
      "--ti", "1", "--krn", "16", "--pan", PAN], "--krn 16"),
    (["decoder-key", "--algorithm", "dkga02", "--vending-key", "abababababababab", "--kt", "2", "--sgc", "123456",
      "--ti", "1", "--krn", "1", "--pan", "600727000000000008"], "Luhn"),
    (["decoder-key", "--algorithm", "des", "--vending-key", "abababababababab", "--kt", "2", "--sgc", "123456",
      "--ti", "1", "--krn", "1", "--pan", PAN], "invalid choice"),
    (["decoder-key", "--algorithm", "dkga04", "--vending-key", VK04.hex(), "--kt", "2", "--sgc", "123456",
      "--ti", "1", "--krn", "1", "--pan", PAN, "--base-date", "2000"], "invalid choice"),
    (["keychange", "--key", KEY, "--new-key", "00", "--krn", "1", "--ti", "1"], "--new-key"),
]


@pytest.mark.parametrize("args,why", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_arguments_give_one_line_and_status_2(args, why, capsys):
    with pytest.raises(SystemExit) as e:
        raise SystemExit(tool.main(args))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err, err


def test_gateway_results_are_the_documented_names():
    names = {tokens.ACCEPTED, tokens.OLD, tokens.USED, tokens.KEY_EXPIRED, tokens.CRC, tokens.FORMAT, tokens.RANGE,
             tokens.OVERFLOW, tokens.FUNCTION_NOT_SUPPORTED, tokens.LOCKOUT, tokens.KEY_TYPE, tokens.KC1_ACCEPTED,
             tokens.KC2_ACCEPTED, tokens.MANUFACTURER_CODE}
    assert len(names) == 14 and all(n == n.lower() and " " not in n for n in names)
