#!/usr/bin/env python3
"""Writes telemetry.csv: four days of a 2 MW wind turbine's SCADA log.

The "real" turbine is simulated here at 1 s and logged as one-minute
means, as SCADA systems do. It is not the twin's model:

  * the wind has turbulence (a fast component, 15 s correlation time,
    and a slow one, 10 min), the rotor feels it through a 5 s lag, and
    the nacelle anemometer sees its own point turbulence on top;
  * the healthy turbine delivers 1 % less than the published power curve
    below rated (no turbine sits exactly on its brochure curve), read at
    the density-normalised rotor wind, and its power follows through a
    4 s lag;
    above rated its own controller holds 2 MW (with a little ripple);
  * the gearbox thermal parameters are a few percent off the twin's:
    capacity 5.3 MJ/K (twin 5), housing 330 W/K (350), cooler 1150 W/K
    (1100), losses 2.1 % + 5.5 kW (2 % + 5 kW), valve 44 .. 54 degC
    (45 .. 55);
  * sensor noise and resolution: wind 0.01 m/s, power 0.1 kW, oil
    0.1 degC (noise 0.15 K), ambient 0.1 degC, nacelle 0.1 degC,
    pressure 0.1 mbar.

The twin runs in shadow mode during this log: the turbine is run by its
own controller, and the twin's pitch and power-limit commands are not
applied.

Time 0 is Monday 00:00. The weather: a mild Monday with a calm night
(cut-in transients), a storm on Tuesday (up to 21 m/s, the turbine at
rated, pitching), a cold front on Wednesday (down to -3.5 degC, high
pressure: dense air), a mild Thursday.

Injected faults (the twin must catch them):
  * Tuesday 12:00 (t = 36 h = 129600 s): the gearbox oil cooler's fan
    stops (its motor breaker trips). The cooler passes 20 % of its
    conductance by natural draught. The fan is reset at 14:00
    (t = 38 h = 136800 s).
  * Wednesday 10:00 (t = 58 h = 208800 s): freezing fog at -3 degC: ice
    accretes on the blades. The aerodynamic loss grows linearly from 0
    to 30 % by 13:00 (t = 61 h), stays, and the ice sheds within an hour
    after the air warms above +1 degC (from t = 69 h = 248400 s).
  * Thursday 12:00 (t = 84 h = 302400 s): the anemometer's output
    freezes at its last reading, to the end of the log.

Garbled samples, as SCADA exports have them: a NaN power at Monday
10:00, a wind speed of 99.9 m/s (outside the sensor's range) at Monday
20:00 and an unreadable oil temperature cell ("ERR") at Tuesday 06:00.
The twin rejects them and holds the last good value.

Deterministic: the same file every time (fixed seed).
"""
import math
import random

random.seed(61400)

HOUR = 3600.0
DT = 1.0
LOG = 60.0
DURATION = 96 * HOUR

RATED = 2000.0            # kW
CURVE = [(3, 0), (4, 66.6), (5, 154), (6, 282), (7, 460), (8, 696), (9, 996),
         (10, 1341), (11, 1661), (12, 1866), (13, 1958), (14, 1988), (15, 1997),
         (16, 1999), (17, 2000), (25, 2000)]
HEALTH = 0.99             # the real turbine against the brochure curve (below rated)
ROTOR_TAU = 4.0           # s
R_DRY = 287.05

# Gearbox of the real turbine.
C_OIL = 5.3e6             # J/K
G_HOUSING = 330.0         # W/K
G_COOLER = 1150.0         # W/K
LOSS_FRACTION = 0.021
IDLE_LOSS = 5500.0        # W
VALVE = (44.0, 54.0)      # degC
ETA_GEN = 0.96

FAN_FAILS, FAN_RESET = 36 * HOUR, 38 * HOUR
ICE_FROM, ICE_FULL, ICE_LOSS = 58 * HOUR, 61 * HOUR, 0.30
ANEMOMETER_FREEZES = 84 * HOUR

# Weather: (hour, value) knots, interpolated linearly.
WIND = [(0, 3.0), (2, 2.6), (4, 3.6), (6, 4.6), (8, 7.0), (11, 9.0), (14, 10.5),
        (17, 10.0), (20, 8.0), (24, 9.0), (26, 12.0), (29, 16.0), (32, 19.0),
        (34, 21.0), (36, 20.0), (38, 18.5), (40, 17.5), (42, 15.0), (45, 12.0),
        (48, 10.0), (50, 8.5), (53, 7.5), (56, 8.0), (58, 8.5), (61, 9.0),
        (64, 8.0), (67, 7.5), (70, 8.5), (72, 9.0), (75, 10.0), (78, 10.5),
        (81, 9.0), (84, 8.5), (87, 10.0), (90, 8.0), (93, 7.0), (96, 6.5)]
AMBIENT = [(0, 8.0), (6, 6.0), (14, 12.0), (20, 9.0), (24, 8.0), (30, 7.0),
           (36, 9.0), (44, 6.0), (48, 4.0), (52, 1.0), (56, -2.0), (60, -3.5),
           (64, -3.0), (67, -1.0), (69, 1.0), (72, 3.0), (80, 5.0), (90, 4.0),
           (96, 3.0)]
PRESSURE = [(0, 1015.0), (20, 1008.0), (34, 995.0), (44, 1005.0), (52, 1018.0),
            (62, 1026.0), (80, 1020.0), (96, 1016.0)]


def knots(table, h):
    if h <= table[0][0]:
        return table[0][1]
    for (x0, y0), (x1, y1) in zip(table, table[1:]):
        if h <= x1:
            return y0 + (y1 - y0) * (h - x0) / (x1 - x0)
    return table[-1][1]


def curve(v):
    return knots(CURVE, v)


def ice(t):
    """Aerodynamic loss from ice on the blades."""
    if t < ICE_FROM:
        return 0.0
    loss = ICE_LOSS * min(1.0, (t - ICE_FROM) / (ICE_FULL - ICE_FROM))
    shed_from = 69 * HOUR
    if t > shed_from:
        loss *= max(0.0, 1.0 - (t - shed_from) / HOUR)
    return loss


def ar1(x, tau, sigma):
    a = math.exp(-DT / tau)
    return a * x + math.sqrt(1 - a * a) * sigma * random.gauss(0, 1)


def main():
    fast = slow = point = 0.0
    rotor_wind = knots(WIND, 0)
    power = curve(rotor_wind) * HEALTH
    oil = 38.0
    nacelle_lag = 0.0
    ripple = 0.0
    sums = {"wind": 0.0, "power": 0.0}
    n = 0
    frozen_wind = None
    rows = []
    t = 0.0
    while t <= DURATION + 1e-9:
        h = t / HOUR
        mean = knots(WIND, h)
        fast = ar1(fast, 15.0, 0.10)
        slow = ar1(slow, 600.0, 0.06)
        point = ar1(point, 10.0, 0.05)
        wind = max(0.0, mean * (1 + fast + slow))
        rotor_wind += (wind - rotor_wind) * DT / 5.0
        anemometer = max(0.0, wind * (1 + point))

        ambient = knots(AMBIENT, h) + 0.3 * math.sin(2 * math.pi * t / (5.3 * HOUR))
        pressure = knots(PRESSURE, h)
        density = pressure * 100 / (R_DRY * (ambient + 273.15))
        v_n = rotor_wind * (density / 1.225) ** (1 / 3)
        available = curve(v_n * HEALTH ** (1 / 3)) * (1 - ice(t))
        ripple = ar1(ripple, 20.0, 3.0)
        target = min(available, RATED - abs(ripple)) if available > 0 else 0.0
        power += (target - power) * DT / ROTOR_TAU

        # Nacelle air: ambient plus the heat of generator, converter and
        # gearbox, settling over half an hour.
        nacelle_lag += (8.0 * power / RATED - nacelle_lag) * DT / 1800.0
        nacelle = ambient + 9.0 + nacelle_lag

        # Gearbox oil.
        loss = (IDLE_LOSS + LOSS_FRACTION * power * 1000 / ETA_GEN) if power > 1 else 0.0
        valve = min(1.0, max(0.0, (oil - VALVE[0]) / (VALVE[1] - VALVE[0])))
        cooler = G_COOLER * (0.2 if FAN_FAILS <= t < FAN_RESET else 1.0)
        oil += (loss - (G_HOUSING + valve * cooler) * (oil - nacelle)) * DT / C_OIL

        sums["wind"] += anemometer
        sums["power"] += power
        n += 1
        if n == int(LOG / DT):
            wind_mean = sums["wind"] / n
            if t + DT > ANEMOMETER_FREEZES:
                if frozen_wind is None:
                    frozen_wind = last_wind
                wind_mean = frozen_wind
            last_wind = wind_mean
            rows.append({
                "t": t + DT,
                "wind_speed": f"{wind_mean:.2f}",
                "power": f"{sums['power'] / n:.1f}",
                "ambient_temp": f"{ambient + random.gauss(0, 0.05):.1f}",
                "pressure": f"{pressure + random.gauss(0, 0.05):.1f}",
                "nacelle_temp": f"{nacelle + random.gauss(0, 0.1):.1f}",
                "oil_temp": f"{oil + random.gauss(0, 0.15):.1f}",
            })
            sums = {"wind": 0.0, "power": 0.0}
            n = 0
        t += DT

    # Garbled samples.
    for row in rows:
        if row["t"] == 10 * HOUR:
            row["power"] = "NaN"
        if row["t"] == 20 * HOUR:
            row["wind_speed"] = "99.9"
        if row["t"] == 30 * HOUR:
            row["oil_temp"] = "ERR"

    cols = ["t", "wind_speed", "power", "ambient_temp", "pressure", "nacelle_temp", "oil_temp"]
    with open("telemetry.csv", "w") as f:
        f.write(",".join(cols) + "\n")
        # The first row at t = 0 repeats the first minute's values, so
        # that every sensor has a sample from the start.
        first = dict(rows[0], t=0.0)
        for row in [first] + rows:
            f.write(",".join([f"{row['t']:g}"] + [row[c] for c in cols[1:]]) + "\n")


if __name__ == "__main__":
    main()
