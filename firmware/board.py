"""The one place that knows the meter board: wiring, clocks and ratings.

Nothing else in the firmware holds a pin number or a board constant. A board
variant (other crystal, shunt, meter constant) is a copy of this file.
"""
from micropython import const

# --- Wiring (ESP32 VSPI; GPIO 6-11 and 16-17 belong to the flash) -----------
SPI_ID = const(2)
SPI_BAUD = const(1_000_000)  # 1 MHz: the ADE7753 allows 10 MHz, a meter needs margin
PIN_SCK = const(18)
PIN_MOSI = const(23)
PIN_MISO = const(19)
PIN_CS = const(5)
PIN_IRQ = const(4)  # ADE7753 IRQ, active low (read, never trusted for counting)
PIN_RELAY = const(26)
PIN_BUZZER = const(25)
PIN_BUTTON = const(0)

# --- Metering IC -------------------------------------------------------------
CLKIN_HZ = const(3_579_545)  # crystal on the ADE7753; some boards fit 4 MHz

# --- Ratings (IEC 62053-21 direct-connected, class 1 hardware) ---------------
UN_MV = const(220_000)  # nominal voltage
IB_MA = const(10_000)  # basic current
IMAX_MA = const(60_000)  # maximum current
FN_MHZ = const(50_000)  # nominal frequency, mHz
METER_CONSTANT_IMP_PER_KWH = const(1600)  # CF LED / pulse output

# --- Analog front end (what scales line quantities to the ADC pins) ----------
# Voltage: resistor divider 1 MOhm : 1 kOhm -> 220 V rms = 311 V pk -> 0.311 V pk
# at CH2 (62 % of the 0.5 V range; +15 % over-voltage still fits).
V_DIVIDER_RATIO = const(1001)
# Current: 0.5 mOhm shunt; Imax 60 A = 84.9 A pk -> 42 mV pk, so CH1 PGA x8
# (62.5 mV full scale at the shunt) keeps Imax at 68 % of range.
SHUNT_MICROOHM = const(500)
CH1_PGA = const(8)
CH2_PGA = const(1)

# --- Firmware timing ---------------------------------------------------------
TICK_MS = const(500)  # metering poll; AENERGY overflows after >= 230 s, far away
WDT_TIMEOUT_MS = const(8000)
CALIBRATION_FILE = "calibration.json"
