#!/usr/bin/env python3
"""Writes telemetry.csv: one hour of a pump's drive data at 10 s intervals.

The pump runs at 20 A for ten minutes, then a clogged impeller pushes the
current to 40 A, which overheats the bearing after about half an hour. A
few samples are garbled on the way (a NaN, a spike outside the sensor's
range, an unreadable cell) as real drives produce them; the twin must
reject them without losing the run. Deterministic: same file every time.
"""
import math
import random

random.seed(7)
rows = ["t,current,speed[rpm],ambient[degC]"]
for k in range(0, 361):
    t = 10 * k
    current = (20.0 if t < 600 else 40.0) + random.gauss(0, 0.4)
    speed = 2900 + random.gauss(0, 5)
    ambient = 22 + 2 * math.sin(2 * math.pi * t / 3600)
    cells = [f"{t}", f"{current:.2f}", f"{speed:.1f}", f"{ambient:.2f}"]
    if t == 1200:
        cells[1] = "NaN"
    if t == 1800:
        cells[1] = "75.0"  # outside 0 A .. 60 A
    if t == 2400:
        cells[2] = "#ERR"
    rows.append(",".join(cells))
with open("telemetry.csv", "w") as f:
    f.write("\n".join(rows) + "\n")
