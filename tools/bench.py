"""`make bench`: dataset-check throughput, peak memory and overhead over bare parsing, on synthetic data.

For each format and size: generate the file once (target/bench-data), run the release `dataset-check` (every
check on), timed here, its peak RSS from /usr/bin/time, and `dataset-bench parse-only` for the bare-parse time
of the same parser, and `dataset-bench reference` for what a user would parse it with instead (the csv crate,
serde_json, gzip decoding alone); then the check again with profiling on (`--profile`, as validate-ingest runs it),
and, for CSV up to 256 MB, pandas.read_csv. Prints a table and writes target/bench-data/results.json. Targets (from
the issues): >= 300 MB/s, <= 1.5x bare parse, <= 1.3x the csv crate, >= 10x pandas, peak RSS < 64 MB on the 2 GB
file; misses are printed, not fatal.

Every figure is the median of BENCH_RUNS runs (default 5), taken in rounds that run each tool once, so a machine
that slows down for a while (a shared virtual machine does) slows every tool alike and the ratios hold.
BENCH_SIZES_MB overrides the sizes (default "10 200 2048").
"""

import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The Makefile passes where cargo builds (CARGO_TARGET_DIR, or ./target).
TARGET = os.environ.get("GUARDRAILS_TARGET_DIR") or os.path.join(ROOT, "target")
DATA = os.path.join(TARGET, "bench-data")
CHECK = os.path.join(TARGET, "release", "dataset-check")
BENCH = os.path.join(TARGET, "release", "examples", "dataset-bench")
CONTRACT = os.path.join(ROOT, "tools", "bench-contract.json")
MB = 1_000_000
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def generate(fmt, size_mb):
    path = os.path.join(DATA, f"tickets-{size_mb}mb.{fmt}")
    if not os.path.exists(path):
        subprocess.run([BENCH, "generate", fmt, str(size_mb * MB), path], check=True)
    return path


def gzipped(path):
    out = path + ".gz"
    if not os.path.exists(out):
        with open(path, "rb") as src, gzip.open(out, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return out


def run_check(path, profile=False):
    """Wall seconds (timed here to the microsecond: /usr/bin/time rounds to 10 ms, a tenth of a 200 MB check),
    peak RSS in MiB (from /usr/bin/time, which reports the checker's alone) and the report."""
    extra = ["--profile", os.path.join(DATA, "profile.json")] if profile else []
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %M", CHECK, "--contract", CONTRACT, *extra, path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - started
    timing = [l for l in proc.stderr.splitlines() if l.startswith("TIME ")][-1].split()
    return seconds, int(timing[1]) / 1024, json.loads(proc.stdout)


def parse_only(path):
    out = subprocess.run([BENCH, "parse-only", CONTRACT, path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["seconds"]


def reference(path):
    """What a user would read the file with instead: the csv crate, serde_json per line, or gzip decoding alone."""
    out = subprocess.run([BENCH, "reference", path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["seconds"]


# pandas' C parser on the same file (what a data scientist reads a CSV with), up to this size: beyond it pandas
# holds gigabytes in memory.
PANDAS_MAX_MB = 256
PANDAS_READ = """
import sys, time
import pandas
started = time.perf_counter()
frame = pandas.read_csv(sys.argv[1], dtype=str, keep_default_na=False, engine="c")
print(time.perf_counter() - started, len(frame))
"""


def pandas_read(path):
    """Seconds pandas.read_csv takes on `path` (in-process, the interpreter's start not counted), or None when
    pandas is not installed (make bench installs it from tools/bench-requirements.txt)."""
    proc = subprocess.run([sys.executable, "-c", PANDAS_READ, path], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"pandas not measured: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return float(proc.stdout.split()[0])


def main():
    os.makedirs(DATA, exist_ok=True)
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES_MB", "10 200 2048").split()]
    cases = []
    for fmt in ("csv", "jsonl"):
        for size in sizes:
            cases.append((fmt, size, generate(fmt, size)))
    mid = sorted(sizes)[len(sizes) // 2]
    cases.append(("jsonl.gz", mid, gzipped(generate("jsonl", mid))))

    rows = []
    print(
        f"{'file':<28} {'MB':>7} {'rows':>10} {'check s':>8} {'MB/s':>7} {'parse s':>8} {'ratio':>6} {'ref s':>6}"
        f" {'x ref':>6} {'RSS MiB':>8}"
        f" {'+profile s':>10} {'MB/s':>7} {'ratio':>6} {'RSS MiB':>8}  verdict"
    )
    for fmt, size, path in cases:
        decoded = os.path.getsize(path[:-3] if path.endswith(".gz") else path) / MB
        with_pandas = fmt == "csv" and size <= PANDAS_MAX_MB
        runs = {"check": [], "bare": [], "ref": [], "profiled": [], "pandas": []}
        for _ in range(RUNS):
            runs["check"].append(run_check(path))
            runs["bare"].append(parse_only(path))
            runs["ref"].append(reference(path))
            runs["profiled"].append(run_check(path, profile=True))
            if with_pandas:
                runs["pandas"].append(pandas_read(path))
        seconds = statistics.median(r[0] for r in runs["check"])
        rss = max(r[1] for r in runs["check"])
        report = runs["check"][-1][2]
        bare = statistics.median(runs["bare"])
        ref = statistics.median(runs["ref"])
        p_seconds = statistics.median(r[0] for r in runs["profiled"])
        p_rss = max(r[1] for r in runs["profiled"])
        pandas_runs = [s for s in runs["pandas"] if s is not None]
        pandas_s = statistics.median(pandas_runs) if pandas_runs else None
        row = {
            "file": os.path.basename(path),
            "mb": round(decoded, 1),
            "rows": report["rows"],
            "check_s": seconds,
            "mb_per_s": round(decoded / seconds, 1) if seconds else None,
            "parse_only_s": bare,
            "ratio": round(seconds / bare, 2) if bare else None,
            "reference_s": ref,
            "ratio_to_reference": round(seconds / ref, 2) if ref else None,
            "peak_rss_mib": round(rss, 1),
            "profiled_s": p_seconds,
            "profiled_mb_per_s": round(decoded / p_seconds, 1) if p_seconds else None,
            "profiled_ratio": round(p_seconds / bare, 2) if bare else None,
            "profiled_peak_rss_mib": round(p_rss, 1),
            "pandas_s": pandas_s,
            "times_faster_than_pandas": round(pandas_s / seconds, 1) if pandas_s and seconds else None,
            "verdict": report["verdict"],
            "duplicates_exact": report["duplicates_exact"],
            "duplicate_fraction": report["duplicate_fraction"],
        }
        rows.append(row)
        print(
            f"{row['file']:<28} {row['mb']:>7} {row['rows']:>10} {seconds:>8.2f} {row['mb_per_s']:>7} "
            f"{bare:>8.2f} {row['ratio']:>6} {ref:>6.2f} {row['ratio_to_reference']:>6} {row['peak_rss_mib']:>8}"
            f" {p_seconds:>10.2f} {row['profiled_mb_per_s']:>7}"
            f" {row['profiled_ratio']:>6} {row['profiled_peak_rss_mib']:>8}  {row['verdict']}"
            f"{'' if row['duplicates_exact'] else ' (duplicates sampled)'}"
            + (f"; pandas {pandas_s:.2f} s ({row['times_faster_than_pandas']}x slower)" if pandas_s else "")
        )
    with open(os.path.join(DATA, "results.json"), "w") as f:
        json.dump(rows, f, indent=2)

    misses = []
    for row in rows:
        if row["file"].endswith(".gz"):
            continue
        if row["mb"] >= 100 and row["mb_per_s"] < 300:
            misses.append(f"{row['file']}: {row['mb_per_s']} MB/s < 300")
        if row["mb"] >= 100 and row["ratio"] > 1.5:
            misses.append(f"{row['file']}: {row['ratio']}x bare parse > 1.5x")
        if row["file"].endswith(".csv") and row["mb"] >= 100 and row["ratio_to_reference"] > 1.3:
            misses.append(f"{row['file']}: {row['ratio_to_reference']}x the csv crate's parse > 1.3x")
        if row["times_faster_than_pandas"] is not None and row["mb"] >= 100 and row["times_faster_than_pandas"] < 10:
            misses.append(f"{row['file']}: only {row['times_faster_than_pandas']}x faster than pandas < 10x")
        if row["mb"] >= 2000 and row["peak_rss_mib"] >= 64:
            misses.append(f"{row['file']}: peak RSS {row['peak_rss_mib']} MiB >= 64")
    print("targets met" if not misses else "targets missed:\n  " + "\n  ".join(misses))


if __name__ == "__main__":
    sys.exit(main())
