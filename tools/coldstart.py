"""Measure a Lambda binary's cold start the way Lambda runs it: through the Runtime API.

Serves the Runtime API on 127.0.0.1, starts the `bootstrap` binary, hands it one event and records
  init   from process start to its first `GET /invocation/next` (config, clients, metrics set up),
  invoke from handing out the event to receiving the response or error,
  rss    the process's peak resident memory (VmHWM) after the invocation.
Repeats N times and prints medians. The AWS calls go wherever AWS_ENDPOINT_URL points (the emulator).

usage: coldstart.py BINARY EVENT.json RUNS   (environment passed through to the binary)
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
        self.first_next = None
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


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(binary: str, event: bytes):
    runtime = Runtime(event)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(runtime))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
    env.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    env.setdefault("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not runtime.finished.wait(60):
        proc.kill()
        raise SystemExit(f"no response within 60 s: {proc.stderr.read().decode()[-2000:]}")
    rss = peak_rss_kib(proc.pid)
    proc.kill()
    proc.wait()
    server.shutdown()
    return (runtime.first_next - start) * 1000, (runtime.done - runtime.handed_out) * 1000, rss, runtime.outcome


def main():
    binary, event_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(event_path, "rb") as f:
        event = f.read()
    results = [measure(binary, event) for _ in range(runs)]
    outcomes = {r[3] for r in results}
    print(
        json.dumps(
            {
                "binary": binary,
                "bytes": os.path.getsize(binary),
                "runs": runs,
                "init_ms_median": round(statistics.median(r[0] for r in results), 2),
                "invoke_ms_median": round(statistics.median(r[1] for r in results), 2),
                "peak_rss_mib_median": round(statistics.median(r[2] for r in results) / 1024, 1),
                "outcomes": sorted(outcomes)[:3],
            }
        )
    )


if __name__ == "__main__":
    main()
