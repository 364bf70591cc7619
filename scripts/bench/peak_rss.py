#!/usr/bin/env python3
"""Run a command and report its wall time and the peak resident memory of the command plus all its descendants.

The process tree is polled through /proc every few milliseconds; at each poll the VmRSS of every live process of
the tree is summed, and the largest sum is the peak. Output (stderr, one line):
    peak_rss_mb=<MB> own_peak_mb=<MB> wall_s=<seconds> exit=<status>
(own_peak_mb: the command's own process alone, without its children).
The command's stdout passes through.

    scripts/bench/peak_rss.py [--interval 0.005] -- forensight detect clip.mp4 --json
"""
import os
import subprocess
import sys
import time


def children_map():
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
        except (OSError, ValueError):
            pass
    return parents


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root):
    parents = children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss_kb(pid)
        stack.extend(parents.get(pid, []))
    return total


def main():
    args = sys.argv[1:]
    interval = 0.005
    if args[:1] == ["--interval"]:
        interval, args = float(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    start = time.monotonic()
    process = subprocess.Popen(args)
    peak = own = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_kb(process.pid))
        own = max(own, rss_kb(process.pid))
        time.sleep(interval)
    wall = time.monotonic() - start
    print(f"peak_rss_mb={peak / 1024:.0f} own_peak_mb={own / 1024:.0f} wall_s={wall:.2f} exit={process.returncode}",
          file=sys.stderr)
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
