"""Run one moto server for a test process and exit when that process goes away.

The parent keeps our stdin open; when it exits (normally, by panic or by signal) the pipe closes, stdin reaches
EOF and we stop, so no emulator outlives the tests that started it.

With GUARDRAILS_ENFORCE_IAM=1, every AWS request is authenticated and authorized with IAM from the start. The
runner is an all-powerful user whose access key is "ak"/"sk": the keys moto's Step Functions interpreter signs its
own service calls with, so the workflow's tasks keep working. Code under test assumes roles and is held to their
policies.

One addition to moto: its training jobs complete at once and report only `train:progress`, so nothing could
judge them. `POST /guardrails/training-metrics {"name": value, ...}` sets the final metrics every training job
created afterwards reports as well, as a training container's metric definitions would.
"""
import json
import os
import sys
import threading

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sagemaker import models as sagemaker_models

# Replaced whole, never mutated: a job created on another server thread reads one complete setting.
TRAINING_METRICS = {}
_moto_training_job_init = sagemaker_models.FakeTrainingJob.__init__


def _training_job_init(self, *args, **kwargs):
    _moto_training_job_init(self, *args, **kwargs)
    self.final_metric_data_list = self.final_metric_data_list + [
        {"MetricName": name, "Value": value, "Timestamp": self.creation_time}
        for name, value in TRAINING_METRICS.items()
    ]


def _parse_metrics(body):
    """{name: number}, or None when the body is anything else."""
    try:
        metrics = json.loads(body or b"{}")
    except ValueError:
        return None
    if not isinstance(metrics, dict):
        return None
    numbers = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        numbers[name] = float(value)
    return numbers


sagemaker_models.FakeTrainingJob.__init__ = _training_job_init

# AWS's notifications name the object version on versioned buckets (`s3.object.versionId`), and consumers act on
# that version (validate-ingest deletes exactly it); moto's leave it out.
from moto.s3 import notifications as s3_notifications

_moto_s3_event = s3_notifications._get_s3_event


def _s3_event(event_name, bucket, key, notification_id):
    event = _moto_s3_event(event_name, bucket, key, notification_id)
    version = getattr(key, "version_id", None)
    if getattr(bucket, "is_versioned", False) and version and version != "null":
        for record in event["Records"]:
            record["s3"]["object"]["versionId"] = version
    return event


s3_notifications._get_s3_event = _s3_event

# S3 checks If-Match / If-None-Match and writes atomically; moto checks, then writes, on a threaded server. Writes
# are serialized here so conditional writes race as they would on S3 (one wins, the other gets 412).
from moto.s3.responses import S3Response

_PUT_LOCK = threading.Lock()
_moto_put_object = S3Response.put_object


def _put_object(self):
    with _PUT_LOCK:
        return _moto_put_object(self)


S3Response.put_object = _put_object


# S3 answers GetBucketVersioning with a <VersioningConfiguration> root, which the SDK for Rust checks by name; moto's
# serializer names it <GetBucketVersioningResponse>.
def _get_bucket_versioning(self):
    status = self.backend.get_bucket_versioning(self.bucket_name)
    self.data["Action"] = "GetBucketVersioning"
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
    )
    return 200, {"Content-Type": "application/xml"}, body


S3Response.get_bucket_versioning = _get_bucket_versioning
moto_app = DomainDispatcherApplication(create_backend_app)


def app(environ, start_response):
    global TRAINING_METRICS
    if environ.get("PATH_INFO") == "/guardrails/training-metrics" and environ.get("REQUEST_METHOD") == "POST":
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        metrics = _parse_metrics(environ["wsgi.input"].read(length))
        if metrics is None:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"expected a JSON object of metric name to number"]
        TRAINING_METRICS = metrics
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(metrics).encode()]
    return moto_app(environ, start_response)


def enforce_iam():
    """The runner's user with every permission and the interpreter's keys, then IAM checks on every request."""
    from moto import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    iam.create_user("us-east-1", "guardrails-runner")
    iam.put_user_policy(
        "guardrails-runner",
        "everything",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    key = iam.create_access_key("guardrails-runner")
    key.access_key_id, key.secret_access_key = "ak", "sk"
    # Authentication by access key only: moto recomputes SigV4 over its own re-encoding of form bodies and
    # disagrees with the AWS SDK for Rust on non-ASCII text (measured: SNS Publish of a Spanish notice fails
    # with SignatureDoesNotMatch). Authorization, which these tests exercise, is unchanged.
    from moto.iam.access_control import IAMRequestBase

    IAMRequestBase.check_signature = lambda self: None
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


if os.environ.get("GUARDRAILS_ENFORCE_IAM") == "1":
    enforce_iam()

server = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler)
port = server.server_address[1]
# The Step Functions interpreter calls services (SageMaker, SNS …) through boto3 at localhost:$MOTO_PORT:
# point it at this server, not the default 5000.
os.environ["MOTO_PORT"] = str(port)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"READY {port}", flush=True)
sys.stdin.read()
server.shutdown()
