"""Create, on a running emulator, what validate-ingest's cold-start measurement touches; write the event.

usage: coldstart_world.py ENDPOINT EVENT_TEMPLATE.json OUT_EVENT.json
Prints the environment variables the function needs, as NAME=value words.
"""

import json
import sys
import urllib.parse

import boto3

endpoint, template, out = sys.argv[1:4]
session = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
)
s3 = session.client("s3", endpoint_url=endpoint)
for bucket in ("coldstart-raw", "coldstart-ingested"):
    s3.create_bucket(Bucket=bucket)
session.client("events", endpoint_url=endpoint).create_event_bus(Name="coldstart-bus")
topic = session.client("sns", endpoint_url=endpoint).create_topic(Name="coldstart-notices")["TopicArn"]
with open("crates/validate-ingest/examples/data/dataset-contract.json") as f:
    session.client("ssm", endpoint_url=endpoint).put_parameter(
        Name="/coldstart/contract", Value=f.read(), Type="String", Overwrite=True
    )

with open(template) as f:
    event = json.load(f)
record = event["Records"][0]["s3"]
key = urllib.parse.unquote_plus(record["object"]["key"])
with open("crates/validate-ingest/examples/data/tickets-sample.csv", "rb") as f:
    body = f.read()
put = s3.put_object(Bucket="coldstart-raw", Key=key, Body=body)
record["bucket"]["name"] = "coldstart-raw"
record["object"]["size"] = len(body)
record["object"]["eTag"] = put["ETag"].strip('"')
with open(out, "w") as f:
    json.dump(event, f)
print(
    f"AWS_ENDPOINT_URL={endpoint} INGESTED_BUCKET=coldstart-ingested EVENT_BUS_NAME=coldstart-bus "
    f"NOTICE_TOPIC_ARN={topic} CONTRACT_PARAMETER=/coldstart/contract DELETE_RAW=false"
)
