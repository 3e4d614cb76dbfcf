"""The calibration record: what one board needs written into its ADE7753.

A versioned, CRC-protected record, stored as JSON with its fields in a fixed
order (MicroPython dicts are unordered, so the CRC covers a canonical text, not
the JSON). Produced by `python -m host_sim calibrate` (or a bench run), loaded
at boot and re-applied after any chip reset.
"""
import binascii
import json

VERSION = 1

# (field, lowest, highest). Order is the canonical order for the CRC.
FIELDS = (
    ("version", 1, 1),
    ("clkin_hz", 1_000_000, 10_000_000),
    ("gain", 0, 0xFF),  # GAIN register: CH1 PGA / full scale, CH2 PGA
    ("ch1os", 0, 0xFF),  # sign-magnitude raw
    ("ch2os", 0, 0xFF),
    ("wgain", -2048, 2047),
    ("apos", -32768, 32767),
    ("phcal", -32, 31),
    ("wdiv", 0, 255),
    ("cfnum", 0, 4095),
    ("cfden", 0, 4095),
    ("vrmsos", -2048, 2047),
    ("irmsos", -2048, 2047),
    ("imp_per_kwh", 1, 100_000),  # meter constant the CF output is set for
    ("vrms_lsb_ref", 1, 0xFFFFFF),  # VRMS reading at the reference voltage
    ("v_ref_mv", 1, 1_000_000),
    ("irms_lsb_ref", 1, 0xFFFFFF),  # IRMS reading at the reference current
    ("i_ref_ma", 1, 1_000_000),
)


class CalibrationError(ValueError):
    pass


def canonical_text(values):
    """'name=value;...' in FIELDS order: the bytes the CRC covers."""
    parts = []
    for name, _, _ in FIELDS:
        parts.append("%s=%d" % (name, values[name]))
    return ";".join(parts)


def crc_of(values):
    return binascii.crc32(canonical_text(values).encode()) & 0xFFFFFFFF


class Calibration:
    """Validated calibration values as attributes (cal.wgain, cal.cfden, ...)."""

    def __init__(self, values):
        for name, lo, hi in FIELDS:
            if name not in values:
                raise CalibrationError("calibration: field '%s' is missing" % name)
            v = values[name]
            if not isinstance(v, int) or isinstance(v, bool):
                raise CalibrationError("calibration: field '%s' must be an integer" % name)
            if v < lo or v > hi:
                raise CalibrationError(
                    "calibration: field '%s' = %d is outside %d..%d" % (name, v, lo, hi)
                )
        for name in values:
            if name != "crc32" and not _known(name):
                raise CalibrationError("calibration: unknown field '%s'" % name)
        self.version = values["version"]
        self.clkin_hz = values["clkin_hz"]
        self.gain = values["gain"]
        self.ch1os = values["ch1os"]
        self.ch2os = values["ch2os"]
        self.wgain = values["wgain"]
        self.apos = values["apos"]
        self.phcal = values["phcal"]
        self.wdiv = values["wdiv"]
        self.cfnum = values["cfnum"]
        self.cfden = values["cfden"]
        self.vrmsos = values["vrmsos"]
        self.irmsos = values["irmsos"]
        self.imp_per_kwh = values["imp_per_kwh"]
        self.vrms_lsb_ref = values["vrms_lsb_ref"]
        self.v_ref_mv = values["v_ref_mv"]
        self.irms_lsb_ref = values["irms_lsb_ref"]
        self.i_ref_ma = values["i_ref_ma"]
        num, den = self.lsb_per_kwh()
        # The ledger adds delta * den to a remainder below num: both must stay
        # far inside 30 bits for any delta the overflow budget allows.
        if num >= 1 << 29 or den >= 1 << 6:
            raise CalibrationError(
                "calibration: CFDEN/CFNUM/WDIV/meter constant give an energy scale too fine for 30-bit integers"
            )

    def lsb_per_kwh(self):
        """AENERGY LSB per kWh as the exact fraction (num, den).

        Wh/LSB = WDIV (CFNUM+1) / ((CFDEN+1) imp/Wh), so
        LSB/kWh = (CFDEN+1) imp/kWh / (WDIV (CFNUM+1)).
        """
        wdiv = self.wdiv if self.wdiv else 1  # WDIV 0 behaves as 1
        return (self.cfden + 1) * self.imp_per_kwh, wdiv * (self.cfnum + 1)

    def as_dict(self):
        d = {}
        for name, _, _ in FIELDS:
            d[name] = getattr(self, name)
        return d

    def to_json(self):
        """JSON text with the fields in canonical order and the CRC last."""
        d = self.as_dict()
        parts = []
        for name, _, _ in FIELDS:
            parts.append('"%s": %d' % (name, d[name]))
        parts.append('"crc32": %d' % crc_of(d))
        return "{" + ", ".join(parts) + "}\n"


def _known(name):
    for field, _, _ in FIELDS:
        if field == name:
            return True
    return False


def from_json(text, where="calibration"):
    """Parse and verify a stored record; CalibrationError says what is wrong."""
    try:
        values = json.loads(text)
    except ValueError:
        raise CalibrationError("%s: not valid JSON" % where)
    if not isinstance(values, dict):
        raise CalibrationError("%s: not a JSON object" % where)
    if values.get("version") != VERSION:
        raise CalibrationError(
            "%s: version %r not supported (this firmware reads %d)"
            % (where, values.get("version"), VERSION)
        )
    if "crc32" not in values:
        raise CalibrationError("%s: crc32 is missing" % where)
    try:
        cal = Calibration(values)
    except CalibrationError as e:
        raise CalibrationError("%s: %s" % (where, str(e).split(": ", 1)[1]))
    if crc_of(cal.as_dict()) != values["crc32"]:
        raise CalibrationError("%s: crc32 does not match the contents (corrupt record)" % where)
    return cal


def make(values):
    """A Calibration from plain values (tools use this, then to_json())."""
    v = dict(values)
    v["version"] = VERSION
    return Calibration(v)
