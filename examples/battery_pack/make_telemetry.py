#!/usr/bin/env python3
"""Writes telemetry.csv: 47 hours of a forklift battery's BMS log.

The asset: a 48 V traction pack of 16 LFP prismatic cells of 280 Ah in
series (16S1P), in the steel tray of an electric counterbalance
forklift that works one shift a day and charges after it.

The "real" pack is simulated here cell by cell: each cell has its own
capacity, resistances and state of charge (a few percent of spread), a
non-linear LFP open-circuit voltage curve (the twin uses a straight
line), and its own thermal node coupled to its neighbours and to the
ambient air (the middle of the tray cools worse than the ends). The BMS
logs every 30 s: pack current (Hall sensor, 0.3 A noise and a 0.05 A
offset), pack voltage, the lowest cell voltage, the highest cell
temperature (NTCs, 0.1 K resolution) and the ambient temperature.

t = 0 is Monday 00:00. Duty: the truck works 06:00-14:00 (breaks at
09:00 and 11:30), driving at 40-90 A with 200-330 A lifts and short
regenerative pulses, then charges from 14:30 at 70 A (0.25 C) with a
taper at the top, and rests.

Injected faults (the twin must catch both):
  * Tuesday 06:00 (t = 30 h = 108000 s): the terminal weld of cell 7
    degrades: its series resistance climbs linearly to four times its
    value (from about 0.3 to 1.25 mOhm) by 07:00 (t = 111600 s) and stays
    there, and its polarization resistance doubles. Under load this cell sags well
    below its neighbours: a weak cell.
  * Tuesday 21:00 (t = 45 h = 162000 s), the truck parked, not charging:
    an internal soft short develops in cell 11. Its resistance starts at
    1 Ohm (about 11 W of heat) and falls with a 40 min time constant, so
    the cell heats faster and faster at zero current (0.1 K/min at first,
    over 1 K/min after 100 min). The log ends at 23:00 (t = 47 h) with
    the cell above 70 degC.

Deterministic: the same file every time (fixed seed).
"""
import math
import random

random.seed(11)

HOUR = 3600.0
SAMPLE = 30.0
END = 47 * HOUR
N = 16
DT = 1.0

Q_NOM = 280.0 * 3600      # C
R0_NOM = 0.30e-3          # Ohm
R1_NOM = 0.25e-3          # Ohm
C1 = 120e3                # F
HEAT_CAP = 5500.0         # J/K
G_NB = 1.0                # W/K between neighbouring cells
G_END, G_MID = 0.8, 0.5   # W/K to ambient (ends cool better)

# LFP open-circuit voltage (typical graphite/LFP curve).
OCV_TABLE = [(0.0, 2.90), (0.05, 3.10), (0.10, 3.20), (0.20, 3.250), (0.30, 3.270),
             (0.40, 3.285), (0.50, 3.292), (0.60, 3.300), (0.70, 3.310), (0.80, 3.320),
             (0.90, 3.330), (0.95, 3.350), (1.00, 3.450)]


def ocv(s):
    s = min(max(s, 0.0), 1.0)
    for (s0, v0), (s1, v1) in zip(OCV_TABLE, OCV_TABLE[1:]):
        if s <= s1:
            return v0 + (v1 - v0) * (s - s0) / (s1 - s0)
    return OCV_TABLE[-1][1]


cap = [Q_NOM * (1 + random.gauss(0, 0.01)) for _ in range(N)]
r0 = [R0_NOM * 1.05 * (1 + random.gauss(0, 0.03)) for _ in range(N)]
r1 = [R1_NOM * 0.95 * (1 + random.gauss(0, 0.03)) for _ in range(N)]
g_amb = [G_END if i in (0, N - 1) else G_MID for i in range(N)]
soc = [0.985 + random.gauss(0, 0.003) for _ in range(N)]
v1 = [0.0] * N


def ambient(t):
    h = (t % 86400) / HOUR
    return 20.0 + 3.0 * math.sin(2 * math.pi * (h - 9) / 24)


temp = [ambient(0.0) + 0.3 for _ in range(N)]

WEAK, WEAK_FROM, WEAK_FULL = 7, 30 * HOUR, 31 * HOUR
SHORT, SHORT_FROM = 11, 45 * HOUR


def weak_factor(t):
    if t < WEAK_FROM:
        return 0.0
    return min(1.0, (t - WEAK_FROM) / (WEAK_FULL - WEAK_FROM))


def short_resistance(t):
    if t < SHORT_FROM:
        return math.inf
    return 1.0 * math.exp(-(t - SHORT_FROM) / (40 * 60))


# Duty: one current per 30 s slot, drawn from a small Markov chain.
mode = "idle"
charging = False


def slot_current(t):
    global mode, charging
    h = (t % 86400) / HOUR
    working = 6 <= h < 14 and not (9 <= h < 9.25) and not (11.5 <= h < 12)
    if working:
        charging = False
        u = random.random()
        if mode == "idle":
            mode = "drive" if u < 0.06 else ("lift" if u < 0.075 else "idle")
        elif mode == "drive":
            mode = "drive" if u < 0.75 else ("regen" if u < 0.85 else ("lift" if u < 0.88 else "idle"))
        else:
            mode = "idle" if u < 0.5 else "drive"
        if mode == "idle":
            return 4.0 + random.uniform(0, 2)
        if mode == "drive":
            return random.uniform(40, 90)
        if mode == "lift":
            return random.uniform(200, 330)
        return -random.uniform(20, 40)
    mode = "idle"
    if h >= 14.5 or h < 6:
        top = max(soc)
        if h >= 14.5 and top < 0.97 and not charging and h < 15:
            charging = True
        if charging:
            if top < 0.97:
                return -70.0
            if top < 0.995:
                return -70.0 * (0.995 - top) / 0.025 - 3.0
            charging = False
    return 0.3   # BMS and truck electronics


rows = ["t,current[A],pack_voltage[V],min_cell_voltage[V],cell_temp_max[degC],ambient[degC]"]
t = 0.0
current = slot_current(0.0)
steps_per_sample = int(SAMPLE / DT)
k = 0
while t <= END + 1e-9:
    if k % steps_per_sample == 0:
        current = slot_current(t)
        # Terminal voltages at this instant, with this slot's current.
        rs = short_resistance(t)
        volts = []
        for i in range(N):
            wf = weak_factor(t) if i == WEAK else 0.0
            r0i = r0[i] * (1 + 3 * wf)
            i_short = ocv(soc[i]) / (rs + r0i) if i == SHORT and rs != math.inf else 0.0
            volts.append(ocv(soc[i]) - r0i * (current + i_short) - v1[i])
        i_meas = round(current + 0.05 + random.gauss(0, 0.3), 1)
        v_pack = round(sum(volts) + random.gauss(0, 0.02), 2)
        v_min = round(min(volts) + random.gauss(0, 0.002), 3)
        t_max = round(max(temp) + random.gauss(0, 0.05), 1)
        t_amb = round(ambient(t) + random.gauss(0, 0.2), 1)
        rows.append(f"{t:.0f},{i_meas:.1f},{v_pack:.2f},{v_min:.3f},{t_max:.1f},{t_amb:.1f}")
    # Integrate every cell over one second (explicit Euler; tau >= 30 s).
    rs = short_resistance(t)
    heat = [0.0] * N
    for i in range(N):
        wf = weak_factor(t) if i == WEAK else 0.0
        r0i = r0[i] * (1 + 3 * wf)
        r1i = r1[i] * (1 + wf)
        i_short = ocv(soc[i]) / (rs + r0i) if i == SHORT and rs != math.inf else 0.0
        i_cell = current + i_short
        heat[i] = r0i * i_cell ** 2 + v1[i] ** 2 / r1i + i_short ** 2 * (rs if rs != math.inf else 0.0)
        soc[i] -= i_cell * DT / cap[i]
        v1[i] += (i_cell / C1 - v1[i] / (r1i * C1)) * DT
    ta = ambient(t)
    new = []
    for i in range(N):
        flow = heat[i] + g_amb[i] * (ta - temp[i])
        if i > 0:
            flow += G_NB * (temp[i - 1] - temp[i])
        if i < N - 1:
            flow += G_NB * (temp[i + 1] - temp[i])
        new.append(temp[i] + flow * DT / HEAT_CAP)
    temp = new
    t += DT
    k += 1

with open("telemetry.csv", "w") as f:
    f.write("\n".join(rows) + "\n")
