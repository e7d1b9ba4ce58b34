#!/usr/bin/env python3
"""Writes telemetry.csv: one January week of a building zone's trend log.

The "real" zone is simulated here as the same two-node RC network the
twin uses, but with parameters a few percent off the twin's (no model is
exact) and with internal gains that vary from day to day (occupancy is
never the nominal one). The heater is driven by the twin's own PI law,
computed here exactly as the twin computes it (same gains, same 1 min
scan, same 5 min held samples, same rejection of bad samples), so the
logged zone temperature is what the twin's commands would have produced.

Time 0 is Monday 00:00. Samples every 5 min: zone temperature (BMS
sensor, noise 0.05 K, 0.01 K resolution), outdoor temperature (weather
station, noise 0.2 K) and global horizontal irradiance.

Injected faults (the twin must catch both):
  * Tuesday 13:00 (t = 1 d 13 h = 133200 s): a window sticks open (a
    tilted casement that no longer closes): an extra 90 W/K of air
    exchange with the outdoors, until it is repaired on Wednesday 10:00
    (t = 208800 s).
  * Saturday 03:00 (t = 5 d 3 h = 442800 s): the heater fails (a blown
    element fuse): it delivers nothing whatever it is commanded, to the
    end of the log.
Garbled samples, as BMS trend logs have them: a NaN zone temperature at
Monday 12:00, a spike of 85 degC (outside the sensor's range) at
Thursday 09:00 and an unreadable outdoor cell at Thursday 15:00. The
twin rejects them and holds the last good value; the PI law here does
the same.

Deterministic: the same file every time (fixed seed).
"""
import math
import random

random.seed(2024)

DAY = 86400.0
STEP = 60.0            # twin step (PI scan), s
SAMPLE = 300.0         # trend-log interval, s
DURATION = 7 * DAY

# Twin's controller (must match hvac_zone.twin).
KP = 2000.0            # W/K
TI = 1800.0            # s
KI = KP / TI           # W/(K s)
HEATER_MAX = 8000.0    # W
COMFORT, SETBACK = 21.0, 17.0

# The real zone: the twin's nominal values with a few percent of error.
C_AIR = 1.6e6          # J/K   (twin: 1.5 MJ/K)
C_MASS = 23.5e6        # J/K   (twin: 25 MJ/K)
H_AM = 3200.0          # W/K   (twin: 3000 W/K)
UA_AIR = 128.0         # W/K   (twin: 120 W/K)
UA_MASS = 76.0         # W/K   (twin: 80 W/K)
APERTURE = 5.5         # m^2   (twin: 6 m^2)
SOLAR_AIR = 0.3
CONV = 0.5
WINDOW_UA = 90.0       # W/K, the stuck-open window
WINDOW_FROM, WINDOW_TO = 1 * DAY + 13 * 3600, 2 * DAY + 10 * 3600
HEATER_FAILS = 5 * DAY + 3 * 3600

# Weather and occupancy, fixed per day.
cloud = [random.uniform(0.25, 1.0) for _ in range(8)]
crowd = [random.uniform(0.7, 1.2) for _ in range(8)]


def outdoor(t):
    h = (t % DAY) / 3600
    return (1.0 + 3.5 * math.sin(2 * math.pi * (h - 9) / 24)
            - 3.0 * math.sin(math.pi * t / (7 * DAY)) + 1.0 * math.sin(2 * math.pi * t / (3.1 * DAY)))


def solar(t):
    d = int(t // DAY)
    h = (t % DAY) / 3600
    if h < 8 or h > 16:
        return 0.0
    return 320.0 * cloud[d] * math.sin(math.pi * (h - 8) / 8) ** 1.5


def schedule(t):
    d = int(t // DAY)
    h = (t % DAY) / 3600
    workday = d % 7 < 5
    comfort = workday and 6 <= h < 19
    occupied = workday and 8 <= h < 18
    gains = 1800.0 * crowd[d] * (0.6 if 12 <= h < 13 else 1.0) if occupied else 300.0
    return (COMFORT if comfort else SETBACK), gains


def deriv(t, ta, tm, heat):
    _, gains = schedule(t)
    q_sol = APERTURE * solar(t)
    to = outdoor(t)
    ua = UA_AIR + (WINDOW_UA if WINDOW_FROM <= t < WINDOW_TO else 0.0)
    dta = (heat + CONV * gains + SOLAR_AIR * q_sol + H_AM * (tm - ta) + ua * (to - ta)) / C_AIR
    dtm = ((1 - CONV) * gains + (1 - SOLAR_AIR) * q_sol + H_AM * (ta - tm) + UA_MASS * (to - tm)) / C_MASS
    return dta, dtm


def twin_setpoint(t):
    """The twin's schedule (nominal), which the controller follows."""
    d = math.floor(t / DAY)
    h = (t - d * DAY) / 3600
    return COMFORT if (d % 7 < 5 and 6 <= h < 19) else SETBACK


ta, tm = 17.0, 16.6          # Monday 00:00 after a weekend at setback
integral = 0.0
held_zone = None             # last good zone sample, as the twin holds it
rows = ["t,zone_temp[degC],outdoor_temp[degC],solar[W/m^2]"]
n_steps = int(DURATION / STEP)
for k in range(n_steps + 1):
    t = k * STEP
    if k % int(SAMPLE / STEP) == 0:
        zone = round(ta + random.gauss(0, 0.05), 2)
        out = round(outdoor(t) + random.gauss(0, 0.2), 1)
        sol = max(0.0, round(solar(t) * (1 + random.gauss(0, 0.03))))
        cells = [f"{t:.0f}", f"{zone:.2f}", f"{out:.1f}", f"{sol:.0f}"]
        good = True
        if t == 12 * 3600:
            cells[1], good = "NaN", False
        if t == 3 * DAY + 9 * 3600:
            cells[1], good = "85.00", False       # outside -10 .. 45 degC
        if t == 3 * DAY + 15 * 3600:
            cells[2] = "#ERR"
        if good:
            held_zone = zone
        rows.append(",".join(cells))
    # The twin's PI (std::control::Pid with kd = 0), once per tick.
    e = twin_setpoint(t) - held_zone
    p = KP * e
    grown = integral + KI * e * STEP
    if grown > integral:
        integral = min(grown, max(integral, HEATER_MAX - p))
    else:
        integral = max(grown, min(integral, 0.0 - p))
    command = min(max(p + integral, 0.0), HEATER_MAX)
    heat = 0.0 if t >= HEATER_FAILS else command
    # The zone over the next minute (RK4, 6 sub-steps of 10 s).
    h = STEP / 6
    for j in range(6):
        s = t + j * h
        k1 = deriv(s, ta, tm, heat)
        k2 = deriv(s + h / 2, ta + h / 2 * k1[0], tm + h / 2 * k1[1], heat)
        k3 = deriv(s + h / 2, ta + h / 2 * k2[0], tm + h / 2 * k2[1], heat)
        k4 = deriv(s + h, ta + h * k3[0], tm + h * k3[1], heat)
        ta += h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        tm += h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])

with open("telemetry.csv", "w") as f:
    f.write("\n".join(rows) + "\n")
