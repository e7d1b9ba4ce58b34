#!/usr/bin/env python3
"""Writes telemetry.csv: one 8 h shift of a small water bottling line,
sampled every 10 s as a line-monitoring system polls its PLCs.

The line: a product pump feeds the filler's bowl (300 L, level-controlled
by the pump's variable-speed drive); the filler (12,000 bottles/h
nameplate, 0.5 L bottles) fills and caps; an accumulation conveyor (2,000
bottles) feeds the case packer (600 cases/h of 24, i.e. 14,400 bottles/h).
The packer is faster than the filler and the pump has 50 % spare flow:
the filler is the designed bottleneck (the "V-curve" of line design).

Columns: the pump's speed, flow and drive fault bit (never set here); for the filler and the
packer, the PackML state (PackTags v3.0 StateCurrent codes: 6 Execute,
5 Suspended = waiting for material or for room, 11 Held = a jam being
cleared, 9 Aborted = a machine fault) and their PLC counters (bottles
processed and rejected at the filler, cases packed and rejected at the
packer), which start at arbitrary values as real counters do.

Healthy behaviour: the filler and the packer have short jams (Held) two
and three times an hour, 20 to 60 s each; the packer runs in bursts,
waiting (Suspended) whenever the conveyor runs empty.

Injected faults (t in seconds from the start of the shift):
- 5400 .. 6900 (1 h 30 .. 1 h 55): the packer breaks down (Aborted).
  The conveyor fills in about 7 min, then the filler is blocked.
- 10800 .. 18000 (3 h .. 5 h): the pump's suction strainer clogs. Its
  flow at full speed falls linearly from 9 m^3/h to 5.4 m^3/h between
  3 h and 3 h 20 (below the filler's 5.94 m^3/h from 3 h 15 min), then
  stays there until the duplex strainer is switched over at 5 h. The
  pump runs flat out, the bowl drains and the filler is starved every
  few minutes: the pump has become the bottleneck.
- 21600 .. 25200 (6 h .. 7 h): a worn filling valve: the fill-level
  inspector rejects 4 % of the bottles instead of 0.4 %.

Deterministic: same file every time.
"""
import random

rng = random.Random(2024)
DT = 1.0
SHIFT = 8 * 3600
BOTTLE_L = 0.5

# Pump (variable speed, level control of the filler bowl)
MAX_SPEED = 2900.0
RATED_FLOW = 9.0  # m^3/h at full speed, clean strainer
BOWL_L = 300.0
# Filler
FILLER_BPH = 11880.0  # runs at 99 % of its 12,000 nameplate
# Conveyor and packer
CONVEYOR_CAP = 2000
PACKER_BPH = 14400.0
PACK = 24

EXECUTE, SUSPENDED, ABORTED, HELD = 6, 5, 9, 11


def pump_health(t):
    if t < 10800 or t >= 18000:
        return 1.0
    return 1.0 - 0.4 * min((t - 10800) / 1200.0, 1.0)


def filler_reject_p(t):
    return 0.04 if 21600 <= t < 25200 else 0.004


class Jams:
    """Poisson jams of random length."""

    def __init__(self, per_hour):
        self.per_hour = per_hour
        self.until = -1.0

    def jammed(self, t):
        if t < self.until:
            return True
        if rng.random() < self.per_hour / 3600.0 * DT:
            self.until = t + rng.uniform(20, 60)
            return True
        return False


bowl = 150.0  # L
integral = 1933.0  # rpm, the PI controller's integral part
conveyor = 600  # bottles
filler_count, filler_rejects = 1_254_300, 4_870
packer_cases, packer_rejects = 310_512, 611
filler_frac = packer_frac = 0.0
filler_waiting = packer_waiting = False
filler_jams, packer_jams = Jams(2.0), Jams(3.0)

rows = ["t,pump_speed[rpm],pump_flow[m^3/h],pump_fault,"
        "filler_state,filler_count,filler_rejects,"
        "packer_state,packer_cases,packer_rejects"]
t = 0.0
while t <= SHIFT:
    # --- pump: PI on the bowl level (setpoint 50 %), anti-windup
    error = 50.0 - bowl / BOWL_L * 100.0
    speed = max(0.0, min(MAX_SPEED, 60.0 * error + integral))
    if 0.0 < speed < MAX_SPEED or (speed >= MAX_SPEED and error < 0) or (speed <= 0 and error > 0):
        integral += 1.5 * error * DT
        integral = max(0.0, min(MAX_SPEED, integral))
    flow = RATED_FLOW * pump_health(t) * speed / MAX_SPEED  # m^3/h
    bowl = min(BOWL_L, bowl + flow / 3.6 * DT)  # m^3/h -> L/s

    # --- filler
    if bowl < 0.15 * BOWL_L:
        filler_waiting = True  # starved of product
    if conveyor >= 1950:
        filler_waiting = True  # blocked by a full conveyor
    if filler_waiting and bowl >= 0.30 * BOWL_L and conveyor <= 1600:
        filler_waiting = False
    jam = filler_jams.jammed(t)
    if jam:
        filler_state = HELD
    elif filler_waiting:
        filler_state = SUSPENDED
    else:
        filler_state = EXECUTE
        filler_frac += FILLER_BPH / 3600.0 * DT
        while filler_frac >= 1.0:
            filler_frac -= 1.0
            filler_count += 1
            bowl -= BOTTLE_L
            if rng.random() < filler_reject_p(t):
                filler_rejects += 1
            else:
                conveyor += 1

    # --- packer
    broken = 5400 <= t < 6900
    if conveyor < 2 * PACK:
        packer_waiting = True
    if packer_waiting and conveyor >= 300:
        packer_waiting = False
    jam = packer_jams.jammed(t)
    if broken:
        packer_state = ABORTED
    elif jam:
        packer_state = HELD
    elif packer_waiting:
        packer_state = SUSPENDED
    else:
        packer_state = EXECUTE
        packer_frac += PACKER_BPH / 3600.0 * DT
        while packer_frac >= PACK and conveyor >= PACK:
            packer_frac -= PACK
            conveyor -= PACK
            packer_cases += 1
            if rng.random() < 0.0005:
                packer_rejects += 1

    if int(t) % 10 == 0:
        rows.append(",".join([
            f"{int(t)}",
            f"{max(speed + rng.gauss(0, 3), 0.0) if speed > 0 else 0.0:.1f}",
            f"{max(flow + rng.gauss(0, 0.05), 0.0) if flow > 0 else 0.0:.3f}",
            "0",
            f"{filler_state}", f"{filler_count}", f"{filler_rejects}",
            f"{packer_state}", f"{packer_cases}", f"{packer_rejects}",
        ]))
    t += DT

with open("telemetry.csv", "w") as f:
    f.write("\n".join(rows) + "\n")
