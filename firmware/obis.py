"""OBIS codes of the technician port's readout, in the reduced forms of
iec62056-21.md, plus this product's manufacturer-specific (C.x.y) codes.
One table for the protocol (firmware/iec62056.py) and the application's
register provider, so both use the same names.
"""

METER_NUMBER = "0.0.0"
SERIAL_NUMBER = "C.1.0"
LOCAL_TIME = "0.9.1"  # hh:mm:ss
LOCAL_DATE = "0.9.2"  # YY-MM-DD
IMPORT_TOTAL = "1.8.0"  # kWh
IMPORT_RATE = ("1.8.1", "1.8.2", "1.8.3", "1.8.4")
EXPORT_TOTAL = "2.8.0"
POWER_IMPORT = "1.7.0"  # kW
POWER_SIGNED = "16.7.0"  # kW, import - export
VOLTAGE = "32.7.0"  # V
CURRENT = "31.7.0"  # A
FREQUENCY = "14.7.0"  # Hz
POWER_FACTOR = "13.7.0"
CURRENT_RATE = "0-0:96.14.0"
RELAY_STATE = "0-0:96.3.10"
REMAINING_CREDIT = "0-0:19.10.0"
ERROR_REGISTER = "F.F"  # 8 hex digits
TOKEN_GATEWAY = "0-0:19.40.0"  # W1 (20 digits) without a session; R1: last result
# Manufacturer-specific items (C.50.x ... C.99.x). Proposed names for the
# provider; the port itself only serves AUTH_LOCKOUT_S and AUTH_FAILURES.
STEP_CONSUMPTION = "C.50.0"  # kWh in the current step period
TARIFF_TIER = "C.51.0"
PRICE = "C.52.0"  # per kWh, currency units
EMERGENCY_DEBT = "C.53.0"
BALANCE_STATE = "C.54.0"  # alarm state name
CLOCK_SET = "0-0:1.0.0"  # W1 (YYYY-MM-DD hh:mm:ss), authenticated
PREPAY_THRESHOLDS = "C.55.0"  # W1, authenticated
RELAY_COMMAND = "C.56.0"  # W1 (CONNECT|DISCONNECT), authenticated
GUARANTEED_SUPPLY = "C.57.0"  # W1, authenticated
FREEZE_NOW = "C.58.0"  # W1 (1), authenticated: instant freeze
MAINTENANCE = "C.59.0"  # W1 (1), authenticated: stop the loop, give back the REPL
TARIFF_UPLOAD_BEGIN = "C.61.0"  # W1 (BEGIN), authenticated
TARIFF_UPLOAD_CHUNK = "C.61.1"  # W1 (up to 96 hex digits of the file)
TARIFF_UPLOAD_END = "C.61.2"  # W1 (CRC-32 of the file, 8 hex digits): checked, made passive
EVENT_PREFIX = "C.98."  # C.98.0 newest event, C.98.1 the one before, ... until ERROR
AUTH_LOCKOUT_S = "C.90.0"  # served by the port: seconds of P2 lockout left
AUTH_FAILURES = "C.90.1"  # served by the port: P2 failures since the last success
BILLING_SUFFIX = "*"  # 1.8.0*01: freeze 01 back

# The readout in the spec's table order; the application's provider may append
# manufacturer codes and billing values (1.8.0*01 ...) after it.
STANDARD_READOUT = (METER_NUMBER, SERIAL_NUMBER, LOCAL_TIME, LOCAL_DATE, IMPORT_TOTAL) + IMPORT_RATE + (
    EXPORT_TOTAL, POWER_IMPORT, POWER_SIGNED, VOLTAGE, CURRENT, FREQUENCY, POWER_FACTOR,
    CURRENT_RATE, RELAY_STATE, REMAINING_CREDIT, ERROR_REGISTER)
FREEZE_PREFIX = "C.96."  # C.96.K: freezes held of kind K; C.96.K*NN: the NN-th newest, whole
# Manufacturer (bench) session, authenticated: firmware/techport.py
METERING_CONTROL = "C.60.0"  # W1 (PAUSE|RESUME); R1: PAUSED|RUNNING
CHIP_CONTROL = "C.60.1"  # W1 (RESET): ADE7753 software reset; R1: DIEREV (identify)
CHIP_REGISTER = "C.63."  # C.63.A: ADE7753 register A (decimal) as the driver's read(); W1 writes it
CHIP_REGISTER_RAW = "C.64."  # C.64.A: register A as the raw unsigned value
CAL_UPLOAD_BEGIN = "C.65.0"  # W1 (BEGIN)
CAL_UPLOAD_CHUNK = "C.65.1"  # W1 (up to 96 hex digits of the calibration JSON)
CAL_UPLOAD_END = "C.65.2"  # W1 (CRC-32, 8 hex digits): installed, metering rebuilt without a reboot
