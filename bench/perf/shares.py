#!/usr/bin/env python3
"""Where the CPU goes, per durable event: `perf script` samples grouped by call stack.

    perf record -F 1999 --call-graph dwarf,16384 -o perf.data \
        target/release/examples/sink_one 64 3
    perf script -i perf.data | python3 bench/perf/shares.py

Each sample goes to the first category whose marker appears anywhere in its stack (leaf to
root), so "SHA-256" counts hashing wherever it is called from, and the futex categories count
what is left of the wait and wake paths. Used for docs/performance.md.
"""
import collections
import sys

CATEGORIES = [
    ("setup: open, recover, close", ["Sink::open", "open::recover", "seal_and_shrink",
                                     "Sink<D,C,E>::close"]),
    ("segment preparation (zero-fill)", ["run_preparer", "segment::prepare"]),
    ("SHA-256: leaf hash + chain link", ["sha2::", "chain::leaf_hash", "chain::link"]),
    ("CRC32C: record framing", ["crc32c"]),
    ("xxh3: seal digest", ["xxh3"]),
    ("fdatasync (CPU in the syscall)", ["fdatasync", "sync_data"]),
    ("pwrite (copy into the page cache)", ["pwrite", "write_all_at"]),
    ("getrandom: event id (new_event)", ["getrandom"]),
    ("postcard: encode in emit", ["encode_body", "postcard"]),
    ("bench: build and render the event, histogram",
     ["Event::render", "with_property", "Event::new", "template::", "hdrhistogram",
      "new_event", "EventBuilder"]),
    ("futex: condvar wait (sleep, switch, wake-up)", ["Condvar>::wait", "Condvar::wait",
                                                      "futex_wait", "wait_timeout"]),
    ("futex: notify (wake others)", ["notify_all", "notify_one", "futex_wake", "wake_up_q"]),
    ("futex: contended queue mutex", ["lock_contended", "futex::Mutex"]),
    ("allocation", ["malloc", "_int_free", "cfree", "realloc", "__rust_alloc",
                    "__rust_dealloc"]),
    ("framing and copying (encode_record)", ["encode_record", "Writer<D>::append",
                                             "write_part"]),
    ("other kernel (scheduler, interrupts)", ["[kernel"]),
]


def category(stack):
    text = "\n".join(stack)
    for name, markers in CATEGORIES:
        if any(m in text for m in markers):
            return name
    return "other (user space)"


def samples(lines):
    stack = []
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith(("\t", " ")) and line.strip():
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                stack.append(parts[1])
        elif stack:
            yield stack
            stack = []
    if stack:
        yield stack


def main():
    counts = collections.Counter(category(s) for s in samples(sys.stdin))
    total = sum(counts.values())
    print(f"{total} samples")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
