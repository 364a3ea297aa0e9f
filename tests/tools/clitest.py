#!/usr/bin/env python3
"""clitest.py - what the CLI tests need besides the CLI itself.

    clitest.py sqs OP JSON | clitest.py ddb OP JSON
        calls the local stand-in (AWS_ENDPOINT_URL_SQS / _DYNAMODB, loopback)
        with a plain JSON POST and prints the reply; exit 1 on an error reply
    clitest.py json EXPR < lines
        evaluates the Python expression EXPR over the JSON lines on stdin
        (docs: all of them, d: the first; numbers as Decimal, D = Decimal, so
        exactness is checked, not approximated); prints the result, exit 1
        when it is falsy
"""
import decimal, json, os, sys, urllib.error, urllib.request

def call(svc, op, body):
    ep = os.environ['AWS_ENDPOINT_URL_' + ('SQS' if svc == 'sqs' else 'DYNAMODB')]
    target = ('AmazonSQS.' if svc == 'sqs' else 'DynamoDB_20120810.') + op
    req = urllib.request.Request(ep.rstrip('/') + '/', data=body.encode(), headers={
        'X-Amz-Target': target, 'Content-Type': 'application/x-amz-json-1.0',
        'X-Amz-Date': '20260101T000000Z',
        'Authorization': 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/'
        + ('sqs' if svc == 'sqs' else 'dynamodb')
        + '/aws4_request, SignedHeaders=host;x-amz-date, Signature=0'})
    try:
        print(urllib.request.urlopen(req, timeout=30).read().decode())
    except urllib.error.HTTPError as e:
        print(e.read().decode(), file=sys.stderr)
        sys.exit(1)

if sys.argv[1] in ('sqs', 'ddb'):
    call(sys.argv[1], sys.argv[2], sys.argv[3])
elif sys.argv[1] == 'json':
    docs = [json.loads(l, parse_float=decimal.Decimal) for l in sys.stdin if l.strip()]
    d = docs[0] if docs else None
    D = decimal.Decimal
    r = eval(sys.argv[2])
    print(r)
    sys.exit(0 if r else 1)
