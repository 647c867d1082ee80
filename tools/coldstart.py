"""Measure each Lambda binary's cold start the way Lambda runs it: through the Runtime API.

For every function of the template, and beside them a bare `lambda_runtime` echo function (no SDK, logs or
metrics: the floor), serves the Runtime API on 127.0.0.1, starts the release binary, hands it one sample event
and records
  init   from process start to its first `GET /invocation/next` (config, clients, metrics set up),
  invoke from handing out the event to receiving the response or error (its first invocation),
  rss    the process's peak resident memory (VmHWM) after the invocation,
  faults the page faults of its init, read at its first `GET /invocation/next` (every thread's; most of what grows
         with the binary's size: its relocated data copied page by page, its code read on first use),
  steps  the init's steps as the function's own "ready for the first event" line reports them (logs and traces,
         configuration and metrics, SDK configuration, clients; from main, so process loading and the async
         runtime come before them).
Repeats N rounds, each binary once per round, and prints medians, and the init as a multiple of the echo
function's.

The functions' environments come from `guardrails-local environments`: the template provisioned on the emulator
and each function's variables resolved, as the local loop gives them (the AWS calls go to that emulator).
Writes target/coldstart.json.

usage: coldstart.py GUARDRAILS_LOCAL RELEASE_DIR ECHO_BINARY RUNS [FUNCTION ...]
(with functions named, only those beside the echo function)
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Runtime:
    def __init__(self, event: bytes):
        self.event = event
        self.pid = None
        self.first_next = None
        self.init_faults = None
        self.handed_out = None
        self.done = None
        self.outcome = None
        self.served = False
        self.finished = threading.Event()


def handler_for(runtime: Runtime):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/invocation/next"):
                self.send_error(404)
                return
            now = time.perf_counter()
            if runtime.first_next is None:
                runtime.first_next = now
                runtime.init_faults = page_faults(runtime.pid)
            if runtime.served:
                # A second poll after the one event: park it until the measurement kills the process.
                runtime.finished.wait(30)
                try:
                    self.send_error(503)
                except OSError:
                    pass  # the measured process was killed while parked here
                return
            runtime.served = True
            runtime.handed_out = time.perf_counter()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:coldstart",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(runtime.event)))
            self.end_headers()
            self.wfile.write(runtime.event)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            runtime.done = time.perf_counter()
            runtime.outcome = ("error: " if self.path.endswith("/error") else "ok: ") + body.decode()[:200]
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            runtime.finished.set()

    return Handler


def page_faults(pid) -> int | None:
    """The process's page faults so far, minor and major, all threads (/proc/PID/stat's fields 10 and 12)."""
    if pid is None:
        return None  # its first request came before Popen returned its pid: not measured this run
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) is in parentheses and may hold spaces: count fields after it.
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[7]) + int(fields[9])


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(binary: str, event: bytes, environment: dict):
    runtime = Runtime(event)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(runtime))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(environment, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
    env.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    env.setdefault("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runtime.pid = proc.pid
    if not runtime.finished.wait(60):
        proc.kill()
        raise SystemExit(f"no response within 60 s: {proc.stderr.read().decode()[-2000:]}")
    rss = peak_rss_kib(proc.pid)
    proc.kill()
    logs, _ = proc.communicate()
    server.shutdown()
    init, invoke = (runtime.first_next - start) * 1000, (runtime.done - runtime.handed_out) * 1000
    return init, invoke, rss, runtime.outcome, phases(logs), runtime.init_faults


# The steps of a function's init, as its "ready for the first event" line reports them (µs from main).
PHASES = ("logs_us", "config_us", "sdk_us", "clients_us", "init_us")


def phases(logs: bytes) -> dict:
    """The init steps a function's stdout reports; none for the echo function, which logs nothing."""
    for line in logs.decode(errors="replace").splitlines():
        if "ready for the first event" in line:
            fields = json.loads(line).get("fields", {})
            return {name: fields[name] for name in PHASES if name in fields}
    return {}


# The sample event each function is measured on (events/), as its trigger delivers it.
EVENTS = {
    "validate-ingest": "sqs-eventbridge-s3-object-created.json",
    "trigger-training": "manual-training-request.json",
    "model-gate": "model-gate-request.json",
    "deploy": "deploy-requested.json",
    "batch-launcher": "eventbridge-s3-batch-input.json",
    "drift-handler": "alarm-model-quality.json",
    "inference-monitor": "sagemaker-transform-job-completed.json",
    "cost-guard": "scheduled-event.json",
    "notifier": "sagemaker-training-job-failed.json",
    "slack-forwarder": "sns-notice.json",
    "posture-audit": "cloudtrail-put-bucket-policy.json",
    "stage-report": "eventbridge-s3-stage-report.json",
}
ECHO = "echo (floor)"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    # Lambda's logging controls, as the template sets them.
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
}


def environments(local: str):
    """Starts `guardrails-local environments`; returns the process (stdin open: the emulator stays up) and each
    function's environment by binary."""
    proc = subprocess.Popen(
        [local, "environments"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stdout:
        if line.startswith("{"):
            functions = json.loads(line)["functions"]
            return proc, {f["binary"]: f["environment"] for f in functions}
    raise SystemExit(f"guardrails-local environments printed no functions: {proc.stderr.read()[-2000:]}")


def summarize(name: str, binary: str, results: list) -> dict:
    faults = [r[5] for r in results if r[5] is not None]
    return {
        "function": name,
        "bytes": os.path.getsize(binary),
        "runs": len(results),
        "init_ms_median": round(statistics.median(r[0] for r in results), 2),
        "invoke_ms_median": round(statistics.median(r[1] for r in results), 2),
        "peak_rss_mib_median": round(statistics.median(r[2] for r in results) / 1024, 1),
        # None if no run's faults were read (each run's first request came before its pid was known).
        "init_faults_median": statistics.median(faults) if faults else None,
        "outcome": sorted({r[3] for r in results})[0][:120],
        "phases_us_median": {
            name: statistics.median(r[4][name] for r in results)
            for name in PHASES
            if all(name in r[4] for r in results)
        },
    }


def main():
    local, release, echo, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    chosen = set(sys.argv[5:])
    proc, envs = environments(local)
    missing = sorted(set(envs) - set(EVENTS))
    if missing:
        raise SystemExit(f"no sample event chosen for {missing}: add it to EVENTS in tools/coldstart.py")
    unknown = sorted(chosen - set(envs))
    if unknown:
        raise SystemExit(f"no such function: {unknown} (the template's: {sorted(envs)})")
    # (name, binary, event, environment), the echo function first.
    subjects = []
    with open(os.path.join(ROOT, "events", EVENTS["cost-guard"]), "rb") as f:
        subjects.append((ECHO, echo, f.read(), BASE_ENV))
    for name in sorted(chosen or envs):
        with open(os.path.join(ROOT, "events", EVENTS[name]), "rb") as f:
            subjects.append((name, os.path.join(release, name), f.read(), dict(BASE_ENV, **envs[name])))
    results = {name: [] for name, *_ in subjects}
    try:
        # Round by round, every binary once per round: a slow spell of the machine (another process, the
        # emulator settling after it provisioned) lands on all of them alike, not on the few measured then.
        for _ in range(runs):
            for name, binary, event, env in subjects:
                results[name].append(measure(binary, event, env))
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    rows = [summarize(name, binary, results[name]) for name, binary, *_ in subjects]
    floor_ms = rows[0]["init_ms_median"]
    print(
        f"{'function':<20} {'init ms':>8} {'x echo':>7} {'init faults':>12} {'1st invoke ms':>14} {'peak RSS MiB':>13} "
        f"{'MB':>6}  outcome"
    )
    for r in rows:
        r["init_vs_echo"] = round(r["init_ms_median"] / floor_ms, 2)
        print(
            f"{r['function']:<20} {r['init_ms_median']:>8} {r['init_vs_echo']:>7} {r['init_faults_median'] or '-':>12} "
            f"{r['invoke_ms_median']:>14} "
            f"{r['peak_rss_mib_median']:>13} {r['bytes'] / 1e6:>6.1f}  {r['outcome'][:60]}"
        )
    print(f"\ninit steps, from main (ms): {'  '.join(f'{p[:-3]:>8}' for p in PHASES)}")
    for r in rows[1:]:
        steps = r["phases_us_median"]
        print(f"{r['function']:<26} " + "  ".join(f"{steps.get(p, float('nan')) / 1000:>8.2f}" for p in PHASES))
    out = os.path.join(os.path.dirname(os.path.normpath(release)), "coldstart.json")
    with open(out, "w") as f:
        json.dump(rows, f, indent=2)
    print(f"\n{runs} runs each, medians; written to {out}")


if __name__ == "__main__":
    main()
