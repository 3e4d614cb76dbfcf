"""host_sim console's provider: metrology codes come from the firmware's Meter
metering a simulated board, on the console's virtual clock."""
from host_sim.console import SimMeterProvider, SimulatedMeter


def test_simulated_meter_registers_the_load_energy():
    sim = SimulatedMeter(load_w=3000.0, pf=1.0)
    p = SimMeterProvider("12345678", sim=sim)
    sim.advance_to(60_000)  # one minute at 3 kW = 50 Wh
    value, unit = p.read("1.8.0")
    assert unit == "kWh"
    assert abs(float(value) - 0.050) <= 0.0015  # class 1 plus the 1 Wh truncation of the readout
    assert abs(float(p.read("32.7.0")[0]) - 220.0) < 2.0
    assert abs(float(p.read("1.7.0")[0]) - 3.0) < 0.05
    assert p.read("2.8.0") == ("0.000", "kWh")
    assert p.read("0.0.0") == ("12345678", None)
