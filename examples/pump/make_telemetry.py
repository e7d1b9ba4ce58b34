#!/usr/bin/env python3
"""Writes telemetry.csv: one hour of a pump's drive and process data at 10 s
intervals.

Timeline (t in seconds from the start of the file):

- 0 .. 600: normal duty, 30 m^3/h, motor current 20 A, water at 25 degC.
- 600: heavy duty. The discharge valve opens wide (45 m^3/h) and the
  current doubles to 40 A. The bearing heats up and passes 80 degC at
  about t = 1785 s: the twin's `overheating` alarm (30 s persistence) is
  due at t = 1815 .. 1820 s, and `overheat_expected` well before.
  At 45 m^3/h the NPSH margin shrinks from 3.9 m to 1.8 m: the suction
  losses grow with the flow squared and the pump needs more NPSH.
- 2400 .. 3000: FAULT, a hot process return warms the water from 25 degC
  to 65 degC. Its vapour pressure rises from 3.2 kPa to 25 kPa and the
  NPSH available falls with it while the suction pressure hardly moves.
  The margin goes below 1 m at t = 2751 s (48.4 degC): the twin's
  `cavitation` alarm (30 s persistence) is due at about t = 2790 s,
  sampling included. Past 61.4 degC (t = 2921 s) the pump cavitates for
  real: the flow drops by 4 % and the suction pressure turns noisy.

A few samples are garbled on the way (a NaN, a spike outside the sensor's
range, an unreadable cell) as real drives produce them; the twin must
reject them without losing the run.

The first four columns are exactly those of the original example (same
seed, same draws, same lines): the repository's CLI tests check the
overheating alarm at t = 1820 s and the rejected sample on line 182. The
process columns draw from their own generator. Deterministic: same file
every time.
"""
import math
import random

RHO = 998.0  # kg/m^3
G = 9.80665  # m/s^2
P_ATM = 101325.0  # Pa
LIFT = 2.0  # m: sump level below the pump centreline
LOSS_AT_30 = 6000.0  # Pa: suction line losses at 30 m^3/h, quadratic in Q
SUCTION_AREA = math.pi * 0.080**2 / 4  # m^2, DN 80
NPSHR_SHUTOFF, NPSHR_BEP, BEP = 1.5, 3.5, 35.0  # m, m, m^3/h


def vapour_pressure(temp_c):
    """Antoine equation for water, 1 .. 100 degC, in Pa."""
    return 133.322 * 10 ** (8.07131 - 1730.63 / (233.426 + temp_c))


def suction_gauge(flow_m3h):
    """Static gauge pressure at the suction flange (Pa) for a flow."""
    q = flow_m3h / 3600.0
    v = q / SUCTION_AREA
    losses = LOSS_AT_30 * (flow_m3h / 30.0) ** 2
    return -RHO * G * LIFT - losses - RHO * v * v / 2


def npsh_margin(flow_m3h, temp_c, speed_rpm):
    p_abs = P_ATM + suction_gauge(flow_m3h)
    v = flow_m3h / 3600.0 / SUCTION_AREA
    npsha = (p_abs - vapour_pressure(temp_c)) / (RHO * G) + v * v / (2 * G)
    ratio = speed_rpm / 2900.0
    npshr = ratio**2 * NPSHR_SHUTOFF + (NPSHR_BEP - NPSHR_SHUTOFF) * (flow_m3h / BEP) ** 2
    return npsha - npshr


random.seed(7)  # the original columns
process = random.Random(11)  # the columns added for the NPSH model
rows = ["t,current,speed[rpm],ambient[degC],flow[m^3/h],suction_pressure[bar],fluid_temp[degC]"]
for k in range(0, 361):
    t = 10 * k
    current = (20.0 if t < 600 else 40.0) + random.gauss(0, 0.4)
    speed = 2900 + random.gauss(0, 5)
    ambient = 22 + 2 * math.sin(2 * math.pi * t / 3600)

    fluid = 25.0 + 40.0 * min(max((t - 2400) / 600.0, 0.0), 1.0)
    flow_set = 30.0 if t < 600 else 45.0
    cavitating = npsh_margin(flow_set, fluid, 2900) < 0
    flow_true = flow_set * (0.96 if cavitating else 1.0)
    flow = flow_true + process.gauss(0, 0.3)
    noise = 0.02 if cavitating else 0.004  # bar
    suction = suction_gauge(flow_true) / 1e5 + process.gauss(0, noise)
    fluid_meas = fluid + process.gauss(0, 0.1)

    cells = [f"{t}", f"{current:.2f}", f"{speed:.1f}", f"{ambient:.2f}",
             f"{flow:.2f}", f"{suction:.4f}", f"{fluid_meas:.2f}"]
    if t == 1200:
        cells[1] = "NaN"
    if t == 1800:
        cells[1] = "75.0"  # outside 0 A .. 60 A
    if t == 2400:
        cells[2] = "#ERR"
    rows.append(",".join(cells))
with open("telemetry.csv", "w") as f:
    f.write("\n".join(rows) + "\n")
