"""Run one moto server for a test process and exit when that process goes away.

The parent keeps our stdin open; when it exits (normally, by panic or by signal) the pipe closes, stdin reaches
EOF and we stop, so no emulator outlives the tests that started it.
"""
import os
import sys

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
# The Step Functions interpreter calls services (SageMaker, SNS …) through boto3 at localhost:$MOTO_PORT:
# point it at this server, not the default 5000.
os.environ["MOTO_PORT"] = str(port)
print(f"READY {port}", flush=True)
sys.stdin.read()
server.stop()
