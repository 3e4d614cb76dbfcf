"""Power cuts at random flash operations of the meter's storage, on real littlefs."""
import storage

from host_sim import cutcampaign
from host_sim.cutcampaign import run_campaign


def test_200_cuts_nothing_corrupt_no_credit_lost_or_applied_twice():
    r = run_campaign(200, seed=1)
    assert r.cuts == 200
    assert (r.corrupt, r.credit_applied_twice, r.credit_lost, r.wallet_mismatch, r.freeze_replayed) == (0, 0, 0, 0, 0)
    # cuts landed inside every kind of update: a token, a freeze, a tariff activation, a relay change
    for kind in ("token", "freeze", "tariff", "relay", "consume"):
        assert r.cuts_in.get(kind, 0) >= 5, r.cuts_in
    assert 0 < r.max_energy_lost_wh < cutcampaign.STEP_WH + cutcampaign.MAX_WH_PER_ACTION
    assert r.tokens_accepted > 50 and r.ok() and r.recovered == 200
    rep = r.report()
    for key in ("cuts", "recovered", "corrupt", "credit_applied_twice", "credit_lost", "energy_lost_wh_max",
                "flash_erases_per_day"):  # product.md's `host_sim faults --json` keys
        assert key in rep
    assert rep["flash_erases_per_day"] > 0


def test_the_campaign_catches_a_credit_committed_apart_from_its_tid(monkeypatch):
    # a broken meter: the TID is written first, the credit in a second save
    def split_commit(self, tid, value_e4):
        if tid in self.state.tids:
            return False
        self.state.tids = (self.state.tids + [tid])[-cutcampaign.TID_MEMORY:]
        self.store.save("tids", 1, storage.pack_i32(tuple(self.state.tids)))
        self.store.save(cutcampaign.STATE, 1, self.state.payload())  # state without the credit yet
        self.state.balance_e4 += value_e4
        self.state.credited_e4 += value_e4
        return self.save(2)

    monkeypatch.setattr(cutcampaign._Meter, "enter_token", split_commit)
    r = run_campaign(60, seed=2)
    assert r.credit_lost + r.wallet_mismatch + r.credit_applied_twice > 0
