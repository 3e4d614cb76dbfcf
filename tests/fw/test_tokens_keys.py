"""The token gateway (firmware/tokens.py): key change, key type, lockout, persistence."""
import sts
import tokens as T
from fwtest import raises
from token_fixtures import KEY_A, KEY_A_TI2, KEY_OTHER, FakeAccount, gateway, token


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
