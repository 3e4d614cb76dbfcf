"""The token gateway (firmware/tokens.py): replay memory, key expiry, key change,
lockout, classes 0/1/2, results, credit applied exactly once, persistence."""
import sts
import tokens as T
from fwtest import Rng, raises

KEY_A = sts.key_from_hex("6ff35b9d1f3453e6")  # DKGA02 example key (TI 01)
KEY_A_TI2 = sts.key_from_hex("f1279ac543860b06")  # same meter, TI 02 (DKGA02, worked out by tools.sts)
KEY_OTHER = sts.key_from_hex("0123456789abcdef")


class FakeAccount:
    """What the gateway may ask of an account, with a balance in account units."""

    def __init__(self, mode="energy", max_balance=10_000_000):
        self.mode = mode
        self.max_balance = max_balance
        self.balance = 0
        self.credits = []  # (mode, amount, tid) per applied credit
        self.power_limit_w = None
        self.cleared = 0
        self.tamper_cleared = 0
        self.tests = []

    def can_credit(self, mode, amount):
        if mode != self.mode:
            return T.FUNCTION_NOT_SUPPORTED
        if self.balance + amount > self.max_balance:
            return T.OVERFLOW
        return None

    def apply_credit(self, mode, amount, tid):
        self.balance += amount
        self.credits.append((mode, amount, tid))

    def set_power_limit_w(self, w):
        self.power_limit_w = w

    def clear_credit(self):
        self.balance = 0
        self.cleared += 1

    def clear_tamper(self):
        self.tamper_cleared += 1

    def meter_test(self, subclass, control):
        self.tests.append((subclass, control))


def token(key, cls, sub, rnd, tid, raw):
    b = bytearray(8)
    sts.make_block(b, cls, sub, rnd, tid, raw)
    return sts.encode(cls, b, key)


def gateway(account=None, **kw):
    kw.setdefault("base_date", 1993)
    kw.setdefault("manufacture_tid", 1000)
    return T.TokenGateway(account or FakeAccount(), KEY_A, **kw)


def test_public_vector_credits_100_wh_once_then_is_used():
    acc = FakeAccount()
    g = gateway(acc, lockout_after=100)
    assert g.enter("23716100501183194197", 0) == T.ACCEPTED  # 0.1 kWh, 2004-03-01 13:55
    assert acc.credits == [("energy", 100, 5871715)]
    for k in range(4):
        assert g.enter("23716100501183194197", 1000 + k) == T.USED
    assert acc.balance == 100 and len(acc.credits) == 1
    assert g.last_tid == 5871715


def test_currency_token_in_units_of_the_configured_resolution():
    acc = FakeAccount("currency")
    g = gateway(acc)
    assert g.enter(token(KEY_A, 0, 4, 1, 2000, 1234), 0) == T.ACCEPTED  # 12.34 at 0.01
    assert acc.credits == [("currency", 123400, 2000)]  # 0.0001 units
    acc2 = FakeAccount("currency")
    g2 = gateway(acc2, currency_res_e4=10_000)  # whole currency units
    assert g2.enter(token(KEY_A, 0, 7, 1, 2000, 5), 0) == T.ACCEPTED
    assert acc2.balance == 50_000


def test_wrong_mode_and_other_utilities_are_function_not_supported():
    acc = FakeAccount("energy")
    g = gateway(acc, lockout_after=100)
    assert g.enter(token(KEY_A, 0, 4, 0, 2000, 10), 0) == T.FUNCTION_NOT_SUPPORTED  # currency
    for sub in (1, 2, 3):  # water, gas, time
        assert g.enter(token(KEY_A, 0, sub, 0, 2001 + sub, 10), 0) == T.FUNCTION_NOT_SUPPORTED
    assert acc.balance == 0 and acc.credits == []
    # a refused token leaves its TID free: the right meter mode can still take it
    acc.mode = "currency"
    assert g.enter(token(KEY_A, 0, 4, 0, 2000, 10), 0) == T.ACCEPTED


def test_overflow_from_the_account_and_beyond_a_small_int():
    acc = FakeAccount("energy", max_balance=1000)  # 1 kWh hoarding limit
    g = gateway(acc, lockout_after=100)
    assert g.enter(token(KEY_A, 0, 0, 0, 2000, 10), 0) == T.ACCEPTED  # 1.0 kWh: exactly the limit
    assert g.enter(token(KEY_A, 0, 0, 0, 2001, 1), 0) == T.OVERFLOW  # 0.1 kWh more
    assert acc.balance == 1000
    big = FakeAccount("energy", max_balance=1 << 40)
    g2 = gateway(big)
    # 1 820 162.4 kWh = 1 820 162 400 Wh: beyond 2**30, no balance can hold it
    assert g2.enter(token(KEY_A, 0, 0, 0, 2000, 0xFFFF), 0) == T.OVERFLOW
    # 1 072 562.4 kWh = 1 072 562 400 Wh <= 2**30 - 1: still a number the account sees
    assert g2.enter(token(KEY_A, 0, 0, 0, 2001, 0xC000 | 8907), 0) == T.ACCEPTED
    assert big.balance == (8907 * 1000 + 1818624) * 100


def test_replay_memory_used_and_old_with_a_small_memory():
    acc = FakeAccount()
    g = gateway(acc, tid_slots=3, manufacture_tid=5, lockout_after=100)

    def enter(tid):
        return g.enter(token(KEY_A, 0, 0, tid & 15, tid, 1), 0)

    assert enter(4) == T.OLD  # before manufacture
    assert enter(5) == T.USED  # the manufacture time itself is remembered
    assert enter(20) == T.ACCEPTED  # memory 20, 5, 5
    assert enter(10) == T.ACCEPTED  # 20, 10, 5
    assert enter(15) == T.ACCEPTED  # 20, 10, 15: oldest (5) forgotten
    assert enter(12) == T.ACCEPTED  # out of order but newer than the oldest: 20, 12, 15
    assert enter(11) == T.OLD
    assert enter(10) == T.OLD  # accepted once, now older than the memory
    assert enter(15) == T.USED
    assert enter(20) == T.USED
    assert acc.balance == 4 * 100


def test_key_expiry_number_boundary():
    # the public vector's TID 5871715 >> 16 = 89
    for ken, want in ((88, T.KEY_EXPIRED), (89, T.ACCEPTED), (255, T.ACCEPTED)):
        acc = FakeAccount()
        g = gateway(acc, ken=ken)
        assert g.enter("23716100501183194197", 0) == want, ken
        assert acc.balance == (100 if want == T.ACCEPTED else 0)


def test_management_tokens_power_limit_clear_credit_clear_tamper():
    acc = FakeAccount()
    g = gateway(acc, lockout_after=100)
    assert g.enter("50901894209860263092", 0) == T.ACCEPTED  # public vector: 1000 W
    assert acc.power_limit_w == 1000
    assert g.enter("50901894209860263092", 0) == T.USED
    acc.balance = 500
    assert g.enter(token(KEY_A, 2, 1, 3, 6_000_000, 0xFFFF), 0) == T.ACCEPTED
    assert acc.balance == 0 and acc.cleared == 1
    assert g.enter(token(KEY_A, 2, 1, 3, 6_000_001, 0x0002), 0) == T.FUNCTION_NOT_SUPPORTED  # gas register
    assert g.enter(token(KEY_A, 2, 5, 3, 6_000_002, 0), 0) == T.ACCEPTED
    assert acc.tamper_cleared == 1
    for sub in (2, 6, 7, 8, 9, 15):  # tariff rate, phase unbalance, reserved, 128-bit key sections
        assert g.enter(token(KEY_A, 2, sub, 3, 6_000_010 + sub, 1), 0) == T.FUNCTION_NOT_SUPPORTED, sub
    assert g.enter(token(KEY_A, 3, 0, 3, 6_000_100, 1), 0) == T.FUNCTION_NOT_SUPPORTED  # class 3


def test_power_limit_above_the_meter_maximum_is_range():
    acc = FakeAccount()
    g = gateway(acc, power_limit_max_w=13_200)
    assert g.enter(token(KEY_A, 2, 0, 0, 3000, 0x4000 | 1), 0) == T.RANGE  # 16 394 W
    assert acc.power_limit_w is None
    assert g.enter(token(KEY_A, 2, 0, 0, 3000, 13_200), 0) == T.ACCEPTED  # same TID: was not used up
    assert acc.power_limit_w == 13_200


def test_class1_test_tokens_public_vectors_and_manufacturer_code():
    acc = FakeAccount()
    g = gateway(acc, mfr_code=0, lockout_after=100)
    # STS 531-1-0-02 CTSA02: subclass 0, control = 36 ones, manufacturer 0
    assert g.enter("56493153725450313471", 0) == T.ACCEPTED
    assert acc.tests == [(0, (1 << 30) - 1)]  # the low 30 control bits
    # subclass 1 (28-bit control, 16-bit manufacturer code 0)
    assert g.enter("02305843005052951967", 0) == T.ACCEPTED
    assert acc.tests[-1] == (1, (1 << 28) - 1)
    g2 = gateway(FakeAccount(), mfr_code=42)
    assert g2.enter("56493153725450313471", 0) == T.MANUFACTURER_CODE
    assert acc.balance == 0


def test_key_change_public_pair_in_either_order_then_old_key_rejected():
    # STS 531-1-0-02 CTSA05 step 1: KEY_A -> KEY_A_TI2, KENHO=KENLO=F, KRN 1, KT 2, TI 02
    first, second = "51638423060042734509", "15361891762113502242"
    for order in ((first, second), (second, first)):
        acc = FakeAccount()
        g = gateway(acc, ken=0x30, krn=7, ti=1)
        r1 = g.enter(order[0], 0)
        assert r1 == (T.KC1_ACCEPTED if order[0] == first else T.KC2_ACCEPTED)
        assert bytes(g.key) == KEY_A  # nothing changes on one section
        assert g.enter(order[1], 599_999) == T.ACCEPTED
        assert bytes(g.key) == KEY_A_TI2
        assert (g.ken, g.krn, g.key_type, g.ti, g.base_date) == (255, 1, 2, 2, 1993)
        # the old key's tokens now fail authentication; the new key's work
        assert g.enter("23716100501183194197", 600_000) == T.CRC
        assert g.enter(token(KEY_A_TI2, 0, 0, 1, 6_000_000, 5), 600_001) == T.ACCEPTED
        assert acc.balance == 500


def _kc_pair(old_key, new_key, kt=2, krn=2, ti=3, ken=0xAB, rollover=False):
    hi = bytearray(8)
    lo = bytearray(8)
    # 1st: KENHO 59..56, KRN 55..52, RO 51, KT 49..48, NKHO (new key bytes 4..7) 47..16
    hi[7] = (3 << 4) | (ken >> 4)
    hi[6] = (krn << 4) | ((1 if rollover else 0) << 3) | kt
    lo[7] = (4 << 4) | (ken & 15)
    lo[6] = ti
    for j in range(4):
        hi[2 + j] = new_key[4 + j]
        lo[2 + j] = new_key[j]
    sts.set_crc(hi, 2)
    sts.set_crc(lo, 2)
    return sts.encode(2, hi, old_key), sts.encode(2, lo, old_key)


def test_key_change_window_is_ten_minutes_and_a_late_partner_starts_over():
    t1, t2 = _kc_pair(KEY_A, KEY_OTHER)
    g = gateway(FakeAccount(), lockout_after=100)
    assert g.enter(t1, 1000) == T.KC1_ACCEPTED
    assert g.enter(t2, 1000 + 600_001) == T.KC2_ACCEPTED  # too late: now this one waits
    assert bytes(g.key) == KEY_A
    assert g.enter(t1, 1000 + 600_001 + 600_000) == T.ACCEPTED  # exactly 10 min later: in time
    assert bytes(g.key) == KEY_OTHER
    assert (g.ken, g.krn, g.key_type, g.ti) == (0xAB, 2, 2, 3)


def test_key_change_window_across_a_ticks_wrap():
    t1, t2 = _kc_pair(KEY_A, KEY_OTHER)
    g = gateway(FakeAccount())
    near_wrap = (1 << 30) - 5000
    assert g.enter(t1, near_wrap) == T.KC1_ACCEPTED
    assert g.enter(t2, 100_000) == T.ACCEPTED  # 105 s later, after the wrap
    assert bytes(g.key) == KEY_OTHER


def test_key_change_roll_over_clears_the_memory_and_moves_the_base_date():
    acc = FakeAccount()
    g = gateway(acc, base_date=2014, manufacture_tid=6_500_000)
    assert g.enter(token(KEY_A, 0, 0, 0, 6_600_000, 10), 0) == T.ACCEPTED
    t1, t2 = _kc_pair(KEY_A, KEY_OTHER, rollover=True)
    assert g.enter(t2, 10) == T.KC2_ACCEPTED
    assert g.enter(t1, 20) == T.ACCEPTED
    assert g.base_date == 2035 and g.tids == [0] * T.TID_SLOTS
    assert acc.balance == 1000  # the balance is kept
    # a TID early in the new era was "old" before the roll-over; now it is new
    assert g.enter(token(KEY_OTHER, 0, 0, 0, 100, 10), 30) == T.ACCEPTED
    assert acc.balance == 2000
    # without the roll-over bit the memory and base date stay
    g2 = gateway(FakeAccount(), base_date=2014, manufacture_tid=6_500_000)
    t1, t2 = _kc_pair(KEY_A, KEY_OTHER)
    g2.enter(t1, 0)
    g2.enter(t2, 0)
    assert g2.base_date == 2014 and g2.tids == [6_500_000] * T.TID_SLOTS


def test_key_type_rules():
    acc = FakeAccount()
    g = gateway(acc, key_type=1, lockout_after=100)  # a default key: key changes only
    assert g.enter("23716100501183194197", 0) == T.KEY_TYPE
    assert acc.balance == 0
    t1, t2 = _kc_pair(KEY_A, KEY_OTHER, kt=2)
    assert g.enter(t1, 0) == T.KC1_ACCEPTED and g.enter(t2, 0) == T.ACCEPTED
    assert g.key_type == 2
    assert g.enter(token(KEY_OTHER, 0, 0, 0, 2000, 3), 0) == T.ACCEPTED
    t1, t2 = _kc_pair(KEY_OTHER, KEY_A, kt=0)  # the factory initialisation key: never
    assert g.enter(t1, 0) == T.KEY_TYPE
    assert g.enter(t2, 0) == T.KC2_ACCEPTED
    assert bytes(g.key) == KEY_OTHER


def test_lockout_escalates_and_an_accepted_token_resets_it():
    acc = FakeAccount()
    g = gateway(acc)
    good = token(KEY_A, 0, 0, 0, 2000, 1)
    bad = "12345678901234567890"
    assert g.enter(bad, 0) == T.CRC
    assert g.enter("123", 1) == T.FORMAT
    assert g.enter(bad, 2) == T.CRC  # third failure: locked for 10 s
    assert g.enter(good, 3) == T.LOCKOUT  # even a valid token waits
    assert g.enter(good, 2 + 9_999) == T.LOCKOUT
    assert g.lockout_remaining_ms(2 + 9_999) == 1
    assert acc.balance == 0
    assert g.enter(bad, 2 + 10_000) == T.CRC  # fourth failure: 20 s
    assert g.enter(good, 2 + 10_000 + 19_999) == T.LOCKOUT
    assert g.enter(bad, 2 + 30_000) == T.CRC  # fifth: 40 s
    assert g.lockout_remaining_ms(2 + 30_000) == 40_000
    assert g.enter(good, 2 + 70_000) == T.ACCEPTED  # resets everything
    assert acc.balance == 100
    assert g.enter(bad, 80_000) == T.CRC and g.enter(bad, 80_001) == T.CRC
    assert g.enter(good, 80_002) == T.USED  # third failure since the reset: 10 s again
    assert g.lockout_remaining_ms(80_002) == 10_000


def test_lockout_is_capped():
    g = gateway(FakeAccount(), lockout_first_ms=10_000, lockout_cap_ms=30_000)
    now = 0
    waits = []
    for _ in range(6):
        assert g.enter("12345678901234567890", now) == T.CRC
        waits.append(g.lockout_remaining_ms(now))
        now += max(waits[-1], 1)
    assert waits == [0, 0, 10_000, 20_000, 30_000, 30_000]


def test_a_power_cycle_resets_the_lockout_but_keeps_the_tid_memory():
    acc = FakeAccount()
    g = gateway(acc)
    good = token(KEY_A, 0, 0, 0, 2000, 1)
    assert g.enter(good, 0) == T.ACCEPTED
    for k in range(3):
        g.enter("12345678901234567890", k)
    record = g.state_bytes()
    g2 = gateway(acc)  # power-up: a fresh gateway, state from storage
    g2.load_state(record)
    assert g2.enter(good, 10) == T.USED  # not LOCKOUT: the lockout did not survive
    assert g2.enter(token(KEY_A, 0, 0, 0, 2001, 1), 11) == T.ACCEPTED
    assert acc.balance == 200


def test_state_record_round_trip_and_corruption_changes_nothing():
    g = gateway(FakeAccount(), base_date=2014, ken=77, krn=9, ti=42, manufacture_tid=123_456)
    g.enter(token(KEY_A, 0, 0, 0, 200_000, 1), 0)
    rec = g.state_bytes()
    assert len(rec) == 15 + 3 * T.TID_SLOTS + 2
    g2 = T.TokenGateway(FakeAccount(), KEY_OTHER, base_date=1993)
    g2.load_state(rec)
    assert bytes(g2.key) == KEY_A and (g2.ken, g2.krn, g2.ti, g2.base_date) == (77, 9, 42, 2014)
    assert sorted(g2.tids) == sorted([123_456] * (T.TID_SLOTS - 1) + [200_000])
    assert g2.state_bytes() == rec
    g3 = T.TokenGateway(FakeAccount(), KEY_OTHER, base_date=1993, manufacture_tid=5)
    before = g3.state_bytes()
    flipped = bytearray(rec)
    flipped[20] ^= 1
    e = raises(ValueError, g3.load_state, bytes(flipped))
    assert "CRC" in str(e)
    e = raises(ValueError, g3.load_state, rec[:-1])
    assert "bytes" in str(e)
    assert g3.state_bytes() == before


def test_constructor_rejects_bad_configuration_with_a_reason():
    e = raises(ValueError, T.TokenGateway, FakeAccount(), b"1234567", 2)
    assert "8" in str(e)
    e = raises(ValueError, lambda: T.TokenGateway(FakeAccount(), KEY_A, base_date=2000))
    assert "base date" in str(e)


def test_every_single_digit_change_of_a_valid_token_changes_no_balance():
    acc = FakeAccount()
    g = gateway(acc, lockout_after=1 << 29)
    good = "23716100501183194197"
    results = {}
    for pos in range(20):
        for digit in "0123456789":
            if good[pos] != digit:
                r = g.enter(good[:pos] + digit + good[pos + 1:], 0)
                results[r] = results.get(r, 0) + 1
    assert acc.balance == 0 and acc.credits == []
    assert set(results) <= {T.CRC, T.FORMAT}, results
    assert g.enter(good, 0) == T.ACCEPTED


def test_random_digit_strings_never_credit():
    # CI-sized; `make bench` runs 100 000 (random_tokens_*)
    acc = FakeAccount("energy", max_balance=1 << 29)
    g = gateway(acc, manufacture_tid=0, lockout_after=1 << 29)
    rng = Rng(2026)
    digits = bytearray(20)
    for _ in range(400):
        for i in range(20):
            digits[i] = 48 + rng.below(10)
        g.enter(digits, 0)
    assert acc.credits == [] and acc.balance == 0


def test_every_result_is_logged_as_one_event():
    g = gateway(FakeAccount(), lockout_after=100)
    g.enter("23716100501183194197", 5)
    g.enter("23716100501183194197", 6)
    assert g.events[-2][:2] == (5, "token_accepted")
    assert g.events[-1][:2] == (6, "token_rejected") and g.events[-1][2].startswith("used ")
    assert g.last_result == T.USED
