#!/usr/bin/env python3
"""tfcheck - inspect and poke the local stand-ins from tests, with botocore.

An independent client (botocore, not taskfleet's own code) so end-to-end tests
check what is really stored and queued. Talks only to the endpoints in
AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS (loopback stand-ins).

  tfcheck.py scan TABLE                 every task's item, one JSON object per
                                        line (not the table's own items: the
                                        config item and the sweep leases,
                                        whose ids hold a space)
  tfcheck.py internal TABLE             those own items, one JSON object per line
  tfcheck.py item TABLE ID              the item with that id as one JSON
                                        object (a consistent read); nothing
                                        when there is none
  tfcheck.py summary TABLE              {"COMPLETED": n, ...} by status
  tfcheck.py put-legacy TABLE ID TYPE PARAMS_JSON
                                        an item in the original scheduler's format
  tfcheck.py put TABLE JSON             an item written as given (plain JSON)
  tfcheck.py set TABLE ID JSON          sets the attributes of JSON (plain) on
                                        the item with that id, the others kept
  tfcheck.py create-legacy-table TABLE [RCU WCU]
                                        a table as the original scheduler's
                                        Terraform makes it: the key, no index;
                                        with provisioned capacity when given
  tfcheck.py enable-ttl TABLE ATTRIBUTE turns TTL on for ATTRIBUTE
  tfcheck.py indexes TABLE              the table's global indexes, one
                                        "NAME STATUS" a line
  tfcheck.py delete-queue QUEUE_URL
  tfcheck.py send QUEUE_URL BODY [DELAY]
  tfcheck.py queue-counts QUEUE_URL     visible, in flight and delayed counts
  tfcheck.py queue-url NAME
  tfcheck.py create-queue NAME [ATTRIBUTES_JSON]
                                        creates a queue; prints its URL
  tfcheck.py queue-attrs QUEUE_URL      every attribute, as one JSON object
  tfcheck.py drain QUEUE_URL            receives and deletes every visible
                                        message; prints {"body", "receives"}
                                        per message and line
"""
import json
import os
import sys
from decimal import Decimal

import botocore.session


def client(service):
    env = "AWS_ENDPOINT_URL_DYNAMODB" if service == "dynamodb" else "AWS_ENDPOINT_URL_SQS"
    endpoint = os.environ[env]
    host = endpoint.split("//", 1)[1].split(":", 1)[0]
    if not host.startswith("127.") and host != "localhost":
        sys.exit("tfcheck: refusing a non-loopback endpoint " + endpoint)
    session = botocore.session.get_session()
    return session.create_client(
        service, region_name=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_url=endpoint,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"))


def unmarshal(av):
    (t, v), = av.items()
    if t == "S":
        return v
    if t == "N":
        d = Decimal(v)
        return int(d) if d == d.to_integral_value() else float(d)
    if t == "BOOL":
        return v
    if t == "NULL":
        return None
    if t == "M":
        return {k: unmarshal(x) for k, x in v.items()}
    if t == "L":
        return [unmarshal(x) for x in v]
    return v


def marshal(x):
    if isinstance(x, bool):
        return {"BOOL": x}
    if x is None:
        return {"NULL": True}
    if isinstance(x, (int, float)):
        return {"N": str(x)}
    if isinstance(x, str):
        return {"S": x}
    if isinstance(x, dict):
        return {"M": {k: marshal(v) for k, v in x.items()}}
    if isinstance(x, list):
        return {"L": [marshal(v) for v in x]}
    raise TypeError(type(x))


def scan(table, internal=False):
    """The task items, or with internal the table's own items (an id with a
    space, which no task id has)."""
    for item in scan_all(table):
        if (" " in str(item.get("id", ""))) == internal:
            yield item


def scan_all(table):
    ddb = client("dynamodb")
    kwargs = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            yield {k: unmarshal(v) for k, v in item.items()}
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd in ("scan", "internal"):
        for item in scan(argv[2], internal=cmd == "internal"):
            print(json.dumps(item, sort_keys=True))
    elif cmd == "item":
        r = client("dynamodb").get_item(TableName=argv[2], Key={"id": {"S": argv[3]}},
                                        ConsistentRead=True)
        if "Item" in r:
            print(json.dumps({k: unmarshal(v) for k, v in r["Item"].items()},
                             sort_keys=True))
    elif cmd == "summary":
        counts = {}
        for item in scan(argv[2]):
            status = item.get("status", "LEGACY")
            counts[status] = counts.get(status, 0) + 1
        print(json.dumps(counts, sort_keys=True))
    elif cmd == "put-legacy":
        table, task_id, task_type, params = argv[2:6]
        item = {"id": {"S": task_id}, "completed": {"BOOL": False},
                "type": {"S": task_type}, "params": marshal(json.loads(params))}
        client("dynamodb").put_item(TableName=table, Item=item)
    elif cmd == "create-legacy-table":
        billing = {"BillingMode": "PAY_PER_REQUEST"} if len(argv) < 5 else {
            "BillingMode": "PROVISIONED", "ProvisionedThroughput": {
                "ReadCapacityUnits": int(argv[3]), "WriteCapacityUnits": int(argv[4])}}
        client("dynamodb").create_table(
            TableName=argv[2],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], **billing)
    elif cmd == "enable-ttl":
        client("dynamodb").update_time_to_live(
            TableName=argv[2],
            TimeToLiveSpecification={"AttributeName": argv[3], "Enabled": True})
    elif cmd == "indexes":
        table = client("dynamodb").describe_table(TableName=argv[2])["Table"]
        for g in table.get("GlobalSecondaryIndexes", []):
            pt = g.get("ProvisionedThroughput", {})
            units = " %s/%s" % (pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]) \
                if pt.get("ReadCapacityUnits") else ""
            print(g["IndexName"], g["IndexStatus"] + units)
    elif cmd == "delete-queue":
        client("sqs").delete_queue(QueueUrl=argv[2])
    elif cmd == "put":
        item = {k: marshal(v) for k, v in json.loads(argv[3]).items()}
        client("dynamodb").put_item(TableName=argv[2], Item=item)
    elif cmd == "set":
        attrs = json.loads(argv[4])
        names = {"#a%d" % i: k for i, k in enumerate(attrs)}
        client("dynamodb").update_item(
            TableName=argv[2], Key={"id": {"S": argv[3]}},
            UpdateExpression="SET " + ", ".join("#a%d = :v%d" % (i, i) for i in range(len(attrs))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":v%d" % i: marshal(v) for i, v in enumerate(attrs.values())})
    elif cmd == "send":
        delay = int(argv[4]) if len(argv) > 4 else 0
        client("sqs").send_message(QueueUrl=argv[2], MessageBody=argv[3],
                                   DelaySeconds=delay)
    elif cmd == "queue-counts":
        attrs = client("sqs").get_queue_attributes(
            QueueUrl=argv[2], AttributeNames=["All"])["Attributes"]
        print(json.dumps({
            "visible": int(attrs["ApproximateNumberOfMessages"]),
            "inflight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
            "delayed": int(attrs["ApproximateNumberOfMessagesDelayed"])}))
    elif cmd == "queue-url":
        print(client("sqs").get_queue_url(QueueName=argv[2])["QueueUrl"])
    elif cmd == "create-queue":
        attrs = json.loads(argv[3]) if len(argv) > 3 else {}
        print(client("sqs").create_queue(QueueName=argv[2],
                                         Attributes=attrs)["QueueUrl"])
    elif cmd == "queue-attrs":
        print(json.dumps(client("sqs").get_queue_attributes(
            QueueUrl=argv[2], AttributeNames=["All"])["Attributes"],
            sort_keys=True))
    elif cmd == "drain":
        sqs = client("sqs")
        while True:
            r = sqs.receive_message(QueueUrl=argv[2], MaxNumberOfMessages=10,
                                    WaitTimeSeconds=1,
                                    AttributeNames=["ApproximateReceiveCount"])
            msgs = r.get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                print(json.dumps({"body": m["Body"], "receives": int(
                    m.get("Attributes", {}).get("ApproximateReceiveCount", 0))}))
                sqs.delete_message(QueueUrl=argv[2],
                                   ReceiptHandle=m["ReceiptHandle"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
