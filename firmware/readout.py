"""The meter's registers behind the technician port: the provider of
firmware/iec62056.py over the real App (readout_codes / read / write / token).

Every value is formatted when the port asks for its line, from the register
as it stands (one short string per line: the readout is streamed, never held
whole). Energy is the exact integer ledger printed truncated to 1 Wh; money
4 decimals; voltage, current, power, frequency and power factor are display
floats (not on the tick path). A code whose register does not exist yet
(uncalibrated meter, postpaid meter, no tariff) reads as unknown (ERROR).

Writes (only ever called in an authenticated session; the port checks that)
go to the App's contract methods, which validate and log; a refusal comes back
as a short reason. Manufacturer codes of the bench session (chip registers,
calibration upload) are served by firmware/techport.py before this provider.

Codes beyond iec62056-21.md's table (obis.py names them):
  C.50.0 step-period kWh, C.51.0 tier, C.52.0 price per kWh, C.53.0 emergency
  debt, C.54.0 balance state; 1.8.0*NN import at the NN-th newest billing
  freeze (also in the readout); C.96.K how many freezes of kind K are held
  (0 daily, 1 billing, 2 settlement, 3 tariff_switch, 4 instant) and C.96.K*NN
  the whole NN-th newest of them; C.98.N the N-th newest event (0 = newest).
"""
import binascii
import json

import obis
from clock import civil_from_days, parse_iso
from freeze import KIND_NAMES
from freeze import decode as decode_freeze

_TARIFF_MAX = 4096  # bytes of a passive tariff upload (tariff files are ~1 KB)
_RESULT_NONE = "none"
# F.F bits (8 hex digits)
ERR_UNCALIBRATED = 0x01
ERR_CLOCK_UNSET = 0x02
ERR_METERING_PAUSED = 0x04
ERR_RELAY_OPEN = 0x08
ERR_CREDIT_EXHAUSTED = 0x10
ERR_FAULTS = 0x20  # a service raised since boot (see the event log)
ERR_TAMPER = 0x40
ERR_TOKENS_LOCKED = 0x80
_MANUFACTURER = (obis.STEP_CONSUMPTION, obis.TARIFF_TIER, obis.PRICE, obis.EMERGENCY_DEBT, obis.BALANCE_STATE)


def kwh_text(kwh, frac, num):
    """Whole kWh + frac/num kWh -> '123.456' (truncated, like the registers)."""
    return "%d.%03d" % (kwh, frac * 1000 // num)


def money_text(e4):
    """0.0001 units -> '-12.3456' (freeze balances: edges only)."""
    sign = "-" if e4 < 0 else ""
    e4 = -e4 if e4 < 0 else e4
    return "%s%d.%04d" % (sign, e4 // 10000, e4 % 10000)


def time_text(day, sod):
    y, m, d = civil_from_days(day)
    return "%02d-%02d-%02d %02d:%02d:%02d" % (y % 100, m, d, sod // 3600, sod // 60 % 60, sod % 60)


def _clean(text):
    # the port turns ( ) / ! * into '?'; ';' keeps fields readable instead
    return str(text).replace("(", "[").replace(")", "]").replace("*", "x").replace("/", "-").replace("!", ".")


def current_text(amps):
    """Three significant figures (1 mA below 1 A): what IRMS can give."""
    a = amps if amps >= 0 else -amps
    if a >= 100:
        return "%.0f" % amps
    if a >= 10:
        return "%.1f" % amps
    if a >= 1:
        return "%.2f" % amps
    return "%.3f" % amps


class AppProvider:
    """The provider of firmware/iec62056.py for one App."""

    def __init__(self, app):
        self.app = app
        self.last_token = _RESULT_NONE
        self._upload = None  # bytearray while a tariff upload is open
        self._upload_when = None  # (day, sod) of the activation
        self.maintenance_due = False
        self._codes = None  # readout codes, made again when a billing freeze is taken
        self._codes_key = -1
        self._pair = [None, None]  # read()'s answer, reused: no tuple per readout line

    def _out(self, value, unit):
        p = self._pair
        p[0] = value
        p[1] = unit
        return p

    # --- helpers ---------------------------------------------------------
    def _metrology(self):
        m = self.app.metering.meter
        return m.metrology if m is not None else None

    def _account(self):
        p = self.app.prepay
        return p.account if p is not None else None

    def _billing_freezes(self, kind):
        """Freeze records of kind (index), oldest first, as decoded dicts: the
        flash ring's, then the RAM ring's newer ones (taken, not saved yet)."""
        app = self.app
        fs = app.freeze_store
        recs = [decode_freeze(bytes(p)) for _, _, p in fs.records(KIND_NAMES[kind])] if fs is not None else []
        t = app.tariff
        if t is not None:
            last = (recs[-1]["day"], recs[-1]["sod"]) if recs else (-1, 0)
            for r in t.freezes.records(kind):
                if (r["day"], r["sod"]) > last:
                    recs.append(r)
        return recs

    def error_flags(self):
        app = self.app
        f = 0
        if app.metering.meter is None:
            f |= ERR_UNCALIBRATED
        if not app.clock.valid:
            f |= ERR_CLOCK_UNSET
        if app.metering.paused:
            f |= ERR_METERING_PAUSED
        p = app.prepay
        if p is not None:
            if not p.relay.closed:
                f |= ERR_RELAY_OPEN
            if p.account.state == "exhausted":
                f |= ERR_CREDIT_EXHAUSTED
            if p.account.tamper:
                f |= ERR_TAMPER
        if app.faults:
            f |= ERR_FAULTS
        t = app.tokens
        if t is not None and t.locked:
            f |= ERR_TOKENS_LOCKED
        return f

    # --- the provider interface ----------------------------------------------
    def readout_codes(self):
        """The spec's table, the manufacturer items, the billing freezes. The
        tuple is made again only when a billing freeze was taken (reading the
        flash ring costs ~6 KB of short-lived heap on the unix port)."""
        app = self.app
        fs = app.freeze_store
        t = app.tariff
        key = (fs.rings["billing"].next_seq if fs is not None else 0) * 64 + (
            t.freezes.taken[1] % 64 if t is not None else 0)
        if key != self._codes_key or self._codes is None:
            try:
                n = len(self._billing_freezes(1))
            except Exception:  # a damaged freeze store must not stop the readout
                n = 0
            self._codes = obis.STANDARD_READOUT + _MANUFACTURER + tuple(
                "1.8.0*%02d" % k for k in range(1, n + 1))
            self._codes_key = key
        return self._codes

    def read(self, code):
        """[value text, unit or None], or None when unknown / not available. The
        pair is reused by the next read: the port formats it at once."""
        app = self.app
        c = app.clock
        if code == obis.METER_NUMBER:
            return self._out(app.meter_number, None)
        if code == obis.SERIAL_NUMBER:
            return self._out("PPM1-" + app.meter_number, None)
        if code == obis.LOCAL_TIME:
            return self._out("%02d:%02d:%02d" % (c.sod // 3600, c.sod // 60 % 60, c.sod % 60), None)
        if code == obis.LOCAL_DATE:
            y, mo, d = civil_from_days(c.day)
            return self._out("%02d-%02d-%02d" % (y % 100, mo, d), None)
        if code == obis.ERROR_REGISTER:
            return self._out("%08X" % self.error_flags(), None)
        if code == obis.TOKEN_GATEWAY:
            return self._out(self.last_token, None)
        if code == obis.RELAY_STATE:
            p = app.prepay
            if p is None:
                return self._out("CONNECTED", None)  # postpaid: the relay is never opened
            return self._out("CONNECTED" if p.relay.closed else "DISCONNECTED", None)
        r = self._read_metrology(code)
        if r is not None:
            return r
        r = self._read_billing(code)
        if r is not None:
            return r
        return self._read_history(code)

    def _read_metrology(self, code):
        m = self._metrology()
        if m is None:
            return None
        if code == obis.IMPORT_TOTAL:
            return self._out(m.energy_import.kwh_text(), "kWh")
        if code == obis.EXPORT_TOTAL:
            return self._out(m.energy_export.kwh_text(), "kWh")
        if code == obis.POWER_IMPORT:
            p = m.power_w()
            return self._out("%.3f" % (p / 1000 if p > 0 else 0.0), "kW")
        if code == obis.POWER_SIGNED:
            return self._out("%.3f" % (m.power_w() / 1000), "kW")
        if code == obis.VOLTAGE:
            # whole volts: the chip's VRMS is good to about 0.5 % (its rms
            # ripple alone is +-0.33 %, host_sim/ade7753_model.py), i.e. ~1 V
            return self._out("%.0f" % m.vrms_v(), "V")
        if code == obis.CURRENT:
            return self._out(current_text(m.irms_a()), "A")
        if code == obis.FREQUENCY:
            return self._out("%.2f" % m.frequency_hz(), "Hz")
        if code == obis.POWER_FACTOR:
            return self._out("%.2f" % m.power_factor(), None)
        return None

    def _read_billing(self, code):
        app = self.app
        t = app.tariff
        a = self._account()
        if code == obis.REMAINING_CREDIT:
            if a is None:
                return None
            return self._out(a.balance_text(), "kWh" if a.mode == "energy" else app.billing.currency or None)
        if code == obis.EMERGENCY_DEBT:
            return self._out(a.debt_text(), None) if a is not None else None
        if code == obis.BALANCE_STATE:
            return self._out(a.state.upper(), None) if a is not None else None
        if t is None:
            return None
        for i in range(4):
            if code == obis.IMPORT_RATE[i]:
                return self._out(t.rate_energy[i + 1].kwh_text(), "kWh")
        if code == obis.CURRENT_RATE:
            return self._out(str(t.rate), None)
        if code == obis.STEP_CONSUMPTION:
            return self._out(t.step_energy.kwh_text(), "kWh")
        if code == obis.TARIFF_TIER:
            return self._out(str(t.tier), None)
        if code == obis.PRICE:
            return self._out("%d.%04d" % (t.price_e4_per_kwh // 10000, t.price_e4_per_kwh % 10000), None)
        return None

    def _back(self, code, prefix, kind):
        """NN of prefix + '*NN' -> that record of kind (1 = newest), or None."""
        back = code[len(prefix):]
        if len(back) != 2 or not back.isdigit() or back == "00":
            return None
        recs = self._billing_freezes(kind)
        k = int(back)
        return recs[len(recs) - k] if k <= len(recs) else None

    def _read_history(self, code):
        t = self.app.tariff
        if code.startswith(obis.IMPORT_TOTAL + "*"):
            if t is None:
                return None
            r = self._back(code, obis.IMPORT_TOTAL + "*", 1)
            return None if r is None else (kwh_text(r["import"][0], r["import"][1], t.num), "kWh")
        if code.startswith(obis.FREEZE_PREFIX):
            kind_s, star, _ = code[len(obis.FREEZE_PREFIX):].partition("*")
            if not kind_s.isdigit() or not 0 <= int(kind_s) < len(KIND_NAMES):
                return None
            kind = int(kind_s)
            if not star:
                return self._out(str(len(self._billing_freezes(kind))), None)  # C.96.K: how many
            if t is None:
                return None
            r = self._back(code, obis.FREEZE_PREFIX + kind_s + "*", kind)
            return None if r is None else (self.freeze_text(r, t.num), None)
        if code.startswith(obis.EVENT_PREFIX):
            n_s = code[len(obis.EVENT_PREFIX):]
            ev = self.app.events
            if not n_s.isdigit() or int(n_s) >= len(ev):
                return None
            day, sod, kind, source, detail, count = ev.entry(len(ev) - 1 - int(n_s))
            text = "%s %s %s %s" % (time_text(day, sod), kind, source, _clean(detail))
            if count > 1:
                text += " x%d" % count
            return self._out(text[:96], None)
        return None

    @staticmethod
    def freeze_text(r, num):
        """One freeze: 'YY-MM-DD hh:mm:ss;KIND;rate;tier;import;r1;r2;r3;r4;export;step;balance;flags'."""
        parts = [time_text(r["day"], r["sod"]), r["kind"].upper(), str(r["rate"]), str(r["tier"]),
                 kwh_text(r["import"][0], r["import"][1], num)]
        for kwh, frac in r["rates"]:
            parts.append(kwh_text(kwh, frac, num))
        parts.append(kwh_text(r["export"][0], r["export"][1], num))
        parts.append(kwh_text(r["step"][0], r["step"][1], num))
        b = r["balance_e4"]
        parts.append("-" if b is None else money_text(b))
        parts.append(str(r["flags"]))
        return ";".join(parts)

    # --- writes (authenticated session only: the port checks) ----------------
    def write(self, code, value):
        """None when done, or a one-line reason (the port NAKs and keeps it)."""
        app = self.app
        if code == obis.CLOCK_SET:
            try:
                day, sod = parse_iso(value.replace(" ", "T"))
            except ValueError as e:
                return str(e)
            return app.set_clock(day, sod)
        if code == obis.RELAY_COMMAND:
            if value not in ("CONNECT", "DISCONNECT"):
                return "relay: %r: CONNECT or DISCONNECT" % value
            return app.command_relay(value == "CONNECT")
        if code == obis.GUARANTEED_SUPPLY:
            if value not in ("0", "1"):
                return "guaranteed supply: %r: 1 (on) or 0 (off)" % value
            return app.set_guaranteed_supply(value == "1")
        if code == obis.FREEZE_NOW:
            if value != "1":
                return "freeze: write 1"
            return app.freeze_now()
        if code == obis.PREPAY_THRESHOLDS:
            return self._prepay_thresholds(value)
        if code == obis.MAINTENANCE:
            if value != "1":
                return "maintenance: write 1"
            self.maintenance_due = True  # techport: once the ACK is out, saves and resets
            return None
        if code == obis.TARIFF_UPLOAD_BEGIN:
            return self._tariff_begin(value)
        if code == obis.TARIFF_UPLOAD_CHUNK:
            return self._tariff_chunk(value)
        if code == obis.TARIFF_UPLOAD_END:
            return self._tariff_end(value)
        return "%s: not writable" % code

    def _prepay_thresholds(self, value):
        """'alarm1=5.0000;alarm2=2.0000;...': keys of the [prepay] table merged
        into the stored configuration (applied at the next boot)."""
        app = self.app
        from prepaysetup import PREPAY_FILE

        try:
            with open(PREPAY_FILE) as f:
                obj = json.loads(f.read())
        except OSError:
            return "prepay: postpaid meter (no %s)" % PREPAY_FILE
        except ValueError as e:
            return "prepay: stored configuration unreadable (%s)" % e
        for item in value.split(";"):
            key, eq, v = item.partition("=")
            if not eq or not key:
                return "prepay: %r: write key=value;key=value" % item
            obj[key] = v
        return app.set_prepay_config(json.dumps(obj))

    def _tariff_begin(self, value):
        c = self.app.clock
        if value == "BEGIN":
            when = (c.day, c.sod)  # active at once (its next pass)
        else:
            try:
                when = parse_iso(value.replace(" ", "T"))
            except ValueError as e:
                return "tariff upload: %s (BEGIN or the activation time)" % e
        self._upload = bytearray()
        self._upload_when = when
        return None

    def _tariff_chunk(self, value):
        if self._upload is None:
            return "tariff upload: no BEGIN"
        if len(value) % 2 or len(self._upload) + len(value) // 2 > _TARIFF_MAX:
            self._upload = None
            return "tariff upload: odd hex or more than %d bytes" % _TARIFF_MAX
        try:
            self._upload.extend(binascii.unhexlify(value))
        except ValueError:
            self._upload = None
            return "tariff upload: chunk is not hex"
        return None

    def _tariff_end(self, value):
        data = self._upload
        self._upload = None
        if data is None:
            return "tariff upload: no BEGIN"
        if "%08x" % binascii.crc32(data) != value.lower():
            return "tariff upload: CRC-32 mismatch (file damaged on the way)"
        try:
            text = bytes(data).decode()
        except UnicodeError:
            return "tariff upload: not UTF-8 text"
        when = self._upload_when
        if when is None:
            return "tariff upload: no BEGIN"
        return self.app.set_passive_tariff(text, when[0], when[1])

    def upload_open(self):
        return self._upload is not None

    def end_session(self):
        """The session ended: a half tariff upload is dropped."""
        self._upload = None
        self._upload_when = None

    def token(self, digits):
        result = self.app.enter_token(digits)
        self.last_token = result
        return result
