"""STS decoding (firmware/sts.py): public vectors, transposition, CRC, amounts, input checks."""
import sts
from fwtest import IS_MICROPYTHON, Rng, skip

KEY_A = "6ff35b9d1f3453e6"  # DKGA02 of sts.md's derivation example
KEY_B = "896745f3de12bc0a"

# sts.md public vectors: key, token, (class, subclass, rnd, tid, amount), plain block (hex, bit 63 first)
VECTORS = (
    (KEY_A, "23716100501183194197", (0, 0, 5, 5871715, 0x0001), "05599863000119e6"),
    (KEY_B, "29054347139309851356", (0, 0, 11, 1698595, 0x0100), "0b19eb230100c207"),
    (KEY_A, "50901894209860263092", (2, 0, 5, 5910301, 0x03E8), "055a2f1d03e8f8f4"),
)


def hex_of_block(block):
    """Plain block as 16 hex digits, most significant byte first."""
    return "".join("%02x" % block[7 - j] for j in range(8))


def block_of_hex(text):
    b = bytearray(8)
    for j in range(8):
        b[7 - j] = int(text[2 * j:2 * j + 2], 16)
    return b


def test_public_vectors_decode_to_their_fields_and_block():
    d = sts.Decoder()
    for key, token, fields, plain in VECTORS:
        assert d.decode(token, sts.key_from_hex(key)) == sts.OK, token
        assert (d.cls, d.subclass, d.rnd, d.tid, d.amount_raw) == fields, token
        assert hex_of_block(d.block) == plain, token
        assert d.crc_ok


def test_public_vectors_encode_back_to_the_same_tokens():
    for key, token, fields, plain in VECTORS:
        assert sts.encode(fields[0], block_of_hex(plain), sts.key_from_hex(key)) == token


def test_transposition_intermediate_values_of_the_first_vector():
    # sts.md: 66-bit number 0x1492083c0a67ce455 -> ciphertext 0x492083c0ae7ce455
    d = sts.Decoder()
    assert d._parse(b"23716100501183194197")
    assert hex_of_block(d.block) == "492083c0ae7ce455"
    assert d.cls == 0
    k = sts.key_from_hex(KEY_A)
    sts.decrypt_block(d.block, k, bytearray(8), bytearray(8))
    assert hex_of_block(d.block) == "05599863000119e6"


def test_encrypt_and_decrypt_are_inverse_for_random_blocks_and_keys():
    rng = Rng(3)
    for _ in range(40):
        key = bytes(rng.below(256) for _ in range(8))
        plain = bytearray(rng.below(256) for _ in range(8))
        c = bytearray(plain)
        sts.encrypt_block(c, key, bytearray(8), bytearray(8))
        assert c != plain
        sts.decrypt_block(c, key, bytearray(8), bytearray(8))
        assert c == plain


def test_crc_example_of_the_sts_association():
    # class 0, subclass 0, RND 0101, TID 110000000010101001010101, amount 0x2710 -> CRC 0x1970
    tid = 0b110000000010101001010101
    block = bytearray(8)
    sts.make_block(block, 0, 0, 0b0101, tid, 0x2710)
    assert (block[1] << 8) | block[0] == 0x1970
    # the CRC routine itself: CRC-16/MODBUS check value of "123456789" is 0x4B37
    assert sts.crc16(b"123456789", 9) == 0x4B37


def test_amount_field_at_every_exponent_boundary():
    # value = m * 10^e + sum_{n=1..e} 2^14 * 10^(n-1), worked out by hand
    cases = ((0x0000, 0), (0x0001, 1), (0x3FFF, 16383), (0x4000, 16384), (0x4001, 16394),
             (0x7FFF, 16383 * 10 + 16384), (0x8000, 16384 + 163840), (0xBFFF, 16383 * 100 + 180224),
             (0xC000, 1818624), (0xFFFF, 18201624))
    for raw, value in cases:
        assert sts.amount_value(raw) == value, raw
        assert sts.amount_raw(value) == raw, value
    assert sts.amount_raw(16385) == -1  # between 16384 and 16394: not representable
    assert sts.amount_raw(18201625) == -1
    assert sts.amount_raw(-1) == -1


def test_format_errors_length_digits_and_the_66_bit_ceiling():
    d = sts.Decoder()
    k = sts.key_from_hex(KEY_A)
    for bad in ("2371610050118319419", "237161005011831941970", "2371610050118319419x",
                "2371610050 118319419", "", "-3716100501183194197", "99999999999999999999",
                "73786976294838206464"):  # 2**66
        assert d.decode(bad, k) == sts.FORMAT, bad
    # 2**66 - 1 is a token number (its CRC just does not match)
    assert d.decode("73786976294838206463", k) == sts.CRC
    assert d.decode(b"23716100501183194197", k) == sts.OK  # bytes work as well as str
    assert d.decode(None, k) == sts.FORMAT and d.decode(23716100501183194197, k) == sts.FORMAT
    assert d.decode("２３716100501183194197", k) == sts.FORMAT  # full-width digits are not ASCII


def test_every_single_digit_change_of_a_valid_token_is_rejected():
    d = sts.Decoder()
    for key, token, _, _ in VECTORS:
        k = sts.key_from_hex(key)
        for pos in range(20):
            for digit in "0123456789":
                if token[pos] == digit:
                    continue
                changed = token[:pos] + digit + token[pos + 1:]
                assert d.decode(changed, k) != sts.OK, changed


def test_a_token_under_another_key_fails_the_crc():
    d = sts.Decoder()
    assert d.decode(VECTORS[0][1], sts.key_from_hex(KEY_B)) == sts.CRC
    assert not d.crc_ok


def test_key_from_hex_rejects_bad_keys_with_a_reason():
    for bad, why in (("6ff35b9d1f3453e", "15 hex digits"), ("6ff35b9d1f3453eg", "not hexadecimal")):
        try:
            sts.key_from_hex(bad)
        except ValueError as e:
            assert why in str(e), str(e)
        else:
            raise AssertionError("accepted " + bad)


def test_decoding_a_valid_token_allocates_nothing():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    d = sts.Decoder()
    k = sts.key_from_hex(KEY_A)
    token = bytearray(b"23716100501183194197")  # as a keypad buffer holds it
    d.decode(token, k)
    micropython.heap_lock()
    try:
        r = d.decode(token, k)
        tid = d.tid
        r2 = d.decode(b"23716100501183194198", k)
    finally:
        micropython.heap_unlock()
    assert r == sts.OK and tid == 5871715
    assert r2 == sts.CRC
