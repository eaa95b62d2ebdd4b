#!/usr/bin/env python3
"""Where the wall time of group commit goes: the leader's cycle from one batch's records
`pwrite` to the next, split into the write, the `fdatasync` and the gap between a sync's end and
the next batch's write (publish, wake-ups, the next leader getting a CPU, framing and hashing).

    perf record -e syscalls:sys_enter_pwrite64,syscalls:sys_exit_pwrite64 \
        -e syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync -o sys.data \
        target/release/examples/sink_one 8 3
    perf script -i sys.data | python3 bench/perf/cycle.py

Also splits the appends' fdatasyncs by whether the segment preparer was zero-filling or syncing
at the time (its 64 KiB writes identify it). Used for docs/performance.md.
"""
import re
import statistics
import sys

LINE = re.compile(r"^\s*(.+?)\s+(\d+)\s+(?:\[\d+\]\s+)?([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):"
                  r"\s*(.*)$")
ZERO_FILL = "count: 0x00010000"  # the preparer writes zeros 64 KiB at a time
MARKER_COUNTS = (96, 112)  # commit marker and seal records (bytes): not a batch's records


def main():
    events = []
    for line in sys.stdin:
        m = LINE.match(line)
        if m:
            events.append((int(m[2]), float(m[3]), m[4], m[5], m[6]))
    preparers = {tid for tid, _, kind, call, args in events
                 if kind == "enter" and call == "pwrite64" and ZERO_FILL in args}
    busy, started, entered, batches, current = [], {}, {}, [], {}
    for tid, t, kind, call, args in events:
        if tid in preparers:
            if kind == "enter" and call == "pwrite64" and ZERO_FILL in args:
                started.setdefault(tid, t)
            if kind == "exit" and call == "fdatasync" and tid in started:
                busy.append((started.pop(tid), t))
            continue
        if kind == "enter":
            count = re.search(r"count: (0x[0-9a-f]+)", args)
            entered[tid] = (call, t, int(count[1], 16) if count else 0)
            continue
        if tid not in entered:
            continue
        call, t0, count = entered.pop(tid)
        if call == "pwrite64" and count not in MARKER_COUNTS:
            current[tid] = {"write": (t0, t), "bytes": count}
        elif call == "fdatasync" and tid in current:
            batch = current.pop(tid)
            batch["sync"] = (t0, t)
            batches.append(batch)
    batches.sort(key=lambda b: b["write"][0])
    batches = batches[5:-5]  # drop the ramp-up and the close
    if len(batches) < 3:
        sys.exit("too few batches in the trace")
    wall = batches[-1]["write"][0] - batches[0]["write"][0]
    rows = {
        "cycle": [n["write"][0] - b["write"][0] for b, n in zip(batches, batches[1:])],
        "records pwrite": [b["write"][1] - b["write"][0] for b in batches[:-1]],
        "fdatasync": [b["sync"][1] - b["sync"][0] for b in batches[:-1]],
        "gap: sync end to next pwrite": [n["write"][0] - b["sync"][1]
                                         for b, n in zip(batches, batches[1:])],
    }
    mean_bytes = statistics.mean(b["bytes"] for b in batches)
    print(f"{len(batches)} batches, {mean_bytes:.0f} record bytes per batch on average")
    for name, xs in rows.items():
        share = "" if name == "cycle" else f"  {100 * sum(xs) / wall:5.1f}% of wall time"
        print(f"{name:30} median {1e6 * statistics.median(xs):7.1f} µs  "
              f"mean {1e6 * statistics.mean(xs):7.1f} µs{share}")
    during = [b["sync"][1] - b["sync"][0] for b in batches
              if any(s <= b["sync"][0] <= e for s, e in busy)]
    other = [b["sync"][1] - b["sync"][0] for b in batches
             if not any(s <= b["sync"][0] <= e for s, e in busy)]
    for name, xs in (("while preparing a segment", during), ("otherwise", other)):
        if xs:
            xs.sort()
            q = lambda p: 1e6 * xs[int(p * (len(xs) - 1))]
            print(f"append fdatasync {name:26} n={len(xs):6d}  p50 {q(.5):7.0f} µs  "
                  f"p99 {q(.99):7.0f} µs  max {q(1):7.0f} µs")


if __name__ == "__main__":
    main()
