"""The token gateway (firmware/tokens.py): credit, replay memory, key expiry,
classes 0/1/2, results, credit applied exactly once."""
import tokens as T
from fwtest import Rng
from token_fixtures import KEY_A, FakeAccount, gateway, token


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
