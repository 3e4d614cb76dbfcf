"""Billing: the tariff fed by what metrology booked, and the tariff's records.

Each pass (a service of the loop, after metering): the tariff advances to the
wall clock, prices the import energy metrology booked since the last pass, and
the prepay account (if any) is debited that exact cost. Without `tariff.json`
nothing is priced (energy is still registered and saved).

Which tariff is active survives power cuts with the registers: the active and
the passive tables are A/B records ("tariff", "passive") that each carry an id,
and the "regs" record names the active id. At boot the table whose id the
registers name is the one in force, so a cut at any instant of an activation
gives the old tariff with the old registers or the new one with the new.
`tariff.json` is read once, on the first boot (no "tariff" record yet).
"""
import json
import struct

from micropython import const

import freeze as fz
import tariff as tf
import tariffstate

ACTIVE = "tariff"
PASSIVE = "passive"
_VERSION = const(1)
TARIFF_FILE = "tariff.json"
_SOURCE = "billing"


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def parse_text(text):
    """(table, obj) from tariff JSON text; TariffError with the key and why."""
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise tf.TariffError("tariff: (json): not valid JSON (%s)" % e)
    return tf.parse(obj), obj


def load_active(store, now_ms=0):
    """(id, text) of the active record, or (0, None)."""
    p = store.load(ACTIVE, _VERSION, None, now_ms)
    if p is None or len(p) < 4:
        return 0, None
    return struct.unpack("<i", p[:4])[0], bytes(p[4:]).decode()


def load_passive(store, now_ms=0):
    """(id, day, sod, text) of the passive record, or (0, -1, 0, None)."""
    p = store.load(PASSIVE, _VERSION, None, now_ms)
    if p is None or len(p) < 12:
        return 0, -1, 0, None
    i, d, s = struct.unpack("<iii", p[:12])
    return i, d, s, bytes(p[12:]).decode()


def save_active(store, tariff_id, text, now_ms=0):
    return store.save(ACTIVE, _VERSION, struct.pack("<i", tariff_id) + text.encode(), now_ms)


def save_passive(store, tariff_id, day, sod, text, now_ms=0):
    return store.save(PASSIVE, _VERSION, struct.pack("<iii", tariff_id, day, sod) + text.encode(), now_ms)


class BillingService:
    name = "billing"

    def __init__(self, app):
        self.app = app
        self.tariff = None
        self.tariff_id = 0
        self.currency = ""
        self.special_days = None  # the active tariff's special days (for prepay)
        self._table = None  # the active table object, to see a passive activation
        self._passive_id = 0
        self._passive_text = None
        self.booked_lsb = 0  # import LSB priced since boot (saturates; diagnostics)

    # --- building ------------------------------------------------------------
    def build(self, meter, saved, now_ms):
        """The tariff for this calibration, restored from the saved record."""
        app = self.app
        store = app.store
        tid, text = load_active(store, now_ms)
        pid, pday, psod, ptext = load_passive(store, now_ms)
        if text is None:
            text = _read(TARIFF_FILE)
            if text is None:
                return None  # no tariff: energy only
            tid = 1
            save_active(store, tid, text, now_ms)
        want = saved.tariff_id if saved is not None and saved.tariff else tid
        if want == pid and ptext is not None and pid != tid:
            # activated before the cut, the active record not rewritten yet
            tid, text = pid, ptext
            save_active(store, tid, text, now_ms)
        try:
            table, obj = parse_text(text)
        except tf.TariffError as e:
            app.events.log("tariff_rejected", _SOURCE, str(e))
            app.say(str(e))
            return None
        m = meter.metrology
        num, den = m.cal.lsb_per_kwh()
        staging = fz.FreezeLog(fz.STAGING) if app.freeze_store is not None else None
        t = tf.Tariff(num, den, m.energy_import, m.energy_export, app.balance_e4, staging)
        c = app.clock
        stored = None
        if saved is not None and saved.tariff and want == tid:
            try:
                stored = tariffstate.unpack(saved.tariff)
            except ValueError as e:
                app.events.log("tariff_state_rejected", _SOURCE, str(e))
        if stored is not None:
            day, sod = tariffstate.instant(stored)
            t.activate(table, day, sod)  # the instant the registers stood at
        else:
            t.activate(table, c.day, c.sod)
        if ptext is not None and pid > tid:
            try:
                ptable, _ = parse_text(ptext)
                t.set_passive(ptable, pday, psod)
                self._passive_id, self._passive_text = pid, ptext
            except tf.TariffError as e:
                app.events.log("tariff_rejected", _SOURCE, str(e))
        if stored is not None:
            try:
                tariffstate.restore(t, stored)
            except ValueError as e:
                app.events.log("tariff_state_rejected", _SOURCE, str(e))
        self.tariff = t
        self.tariff_id = tid
        self.currency = table.currency
        self.special_days = obj.get("special_days")
        self._table = t.table
        return t

    def state_bytes(self):
        t = self.tariff
        return tariffstate.pack(t, self.tariff_id) if t is not None else b""

    # --- commands ------------------------------------------------------------
    def set_passive(self, text, day, sod, now_ms):
        """Validate the whole table, store it, schedule it; None or the reason."""
        t = self.tariff
        if t is None:
            return "tariff: no active tariff (meter not calibrated or no tariff.json)"
        try:
            table, _ = parse_text(text)
        except tf.TariffError as e:
            return str(e)
        pid = max(self.tariff_id, self._passive_id) + 1
        if not save_passive(self.app.store, pid, day, sod, text, now_ms):
            return "tariff: could not store the passive tariff (flash)"
        t.set_passive(table, day, sod)
        self._passive_id, self._passive_text = pid, text
        self.app.events.log("tariff_passive", _SOURCE, pid)
        return None

    # --- the loop ------------------------------------------------------------
    def poll(self, now_ms):
        app = self.app
        meter = app.metering.meter
        if meter is None:
            return
        lsb = meter.metrology.take_import_lsb()
        t = self.tariff
        cost = 0
        activated = False
        if t is not None:
            c = app.clock
            t.poll(c.day, c.sod, c.valid)
            activated = t.table is not self._table
            t.book(lsb)
            cost = t.take_cost_e4()
        p = app.prepay
        if p is not None:
            p.bill(lsb, cost)
        app.storage.policy.note_energy(lsb)
        if self.booked_lsb < 0x3FFFFFFF - lsb:
            self.booked_lsb += lsb
        if activated:  # saved once this pass's energy is booked and billed (same record)
            self._activated(now_ms)

    def _activated(self, now_ms):
        """The passive tariff became active: save the registers naming it, then
        make it the active record (see the module doc for the order)."""
        app = self.app
        t = self.tariff
        if t is not None:
            self._table = t.table
        self.tariff_id = self._passive_id
        app.events.log("tariff_change", _SOURCE, self.tariff_id)
        if app.storage.save(now_ms) and self._passive_text is not None:
            save_active(app.store, self.tariff_id, self._passive_text, now_ms)
