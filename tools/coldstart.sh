#!/usr/bin/env bash
# Cold start + one invocation of a release Lambda binary through a local Runtime API, against the emulator.
# usage: tools/coldstart.sh BINARY [RUNS]   (run from the repository root; `make coldstart` builds and calls it)
# For validate-ingest the first run checks and copies the sample file; later runs find its idempotency marker, so
# the invoke median is the redelivery path. Init time and peak RSS are what the measurement is for.
set -euo pipefail
binary=$1
runs=${2:-15}
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
moto=$!
trap 'kill $moto' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null && break; sleep 0.1; done
event=$(mktemp)
envs=$(.venv/bin/python tools/coldstart_world.py "http://127.0.0.1:$port" events/s3-object-created.json "$event")
env $envs AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  .venv/bin/python tools/coldstart.py "$binary" "$event" "$runs"
