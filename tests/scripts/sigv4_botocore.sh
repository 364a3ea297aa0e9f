#!/usr/bin/env bash
# tests/scripts/sigv4_botocore.sh - our SigV4 signer against botocore's.
#
# For a handful of realistic requests, signs each one with lib/aws/sigv4.c (through
# tests/sigv4/sign_cli.c) and with botocore's SigV4Auth (Debian's
# python3-botocore, tests/sigv4/botocore_sign.py) at the same fixed time with
# the same credentials, and compares the Authorization values. Offline: nothing
# is sent anywhere.
#
# Needs `make` to have run: links $TF_BUILD/lib/libtaskfleet.a (TF_BUILD, else
# $BUILD, else build), with the sanitizer that build directory was made with.
# Prints "PASS name" or "FAIL name: why" per request; exits 1 on any failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${TF_BUILD:-$ROOT/${BUILD:-build}}
LIB=$BUILD_DIR/lib/libtaskfleet.a
CC=${CC:-cc}

failed=0
fail() {
	echo "FAIL $1: $2"
	failed=1
}

TMP=$(mktemp -d /tmp/taskfleet-sigv4.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# Debian's python3-botocore lives with /usr/bin/python3; another python3
# earlier on PATH may carry its own botocore. PYTHON overrides the choice.
if [ -z "${PYTHON:-}" ]; then
	PYTHON=python3
	if /usr/bin/python3 -c 'import botocore.auth' 2>/dev/null; then
		PYTHON=/usr/bin/python3
	fi
fi
if ! "$PYTHON" -c 'import botocore.auth' 2>"$TMP/py.err"; then
	fail "sigv4_botocore setup" "$PYTHON cannot import botocore (apt-get install python3-botocore): $(tail -n 1 "$TMP/py.err")"
	exit 1
fi
echo "# botocore $("$PYTHON" -c 'import botocore; print(botocore.__version__, botocore.__file__)')"
if [ ! -f "$LIB" ]; then
	fail "sigv4_botocore setup" "$LIB is missing: run make first"
	exit 1
fi
case $(basename "$BUILD_DIR") in
asan) SAN="-fsanitize=address -fno-omit-frame-pointer" ;;
ubsan) SAN="-fsanitize=undefined -fno-sanitize-recover=all" ;;
tsan) SAN="-fsanitize=thread" ;;
*) SAN="" ;;
esac
# shellcheck disable=SC2086
if ! $CC -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror $SAN -Ilib \
    -o "$TMP/sign_cli" tests/sigv4/sign_cli.c "$LIB" \
    -lcurl -lcjson -lcrypto -luuid -ldl -lpthread -lm 2>"$TMP/cc.err"; then
	fail "sigv4_botocore build" "cannot build sign_cli: $(head -n 5 "$TMP/cc.err")"
	exit 1
fi

# check name method path query region service amz-date key-id secret body-file header...
check() {
	local name=$1; shift
	local ours theirs

	if ! ours=$("$TMP/sign_cli" "$@" 2>"$TMP/ours.creq"); then
		fail "$name" "sign_cli failed: $(tail -n 3 "$TMP/ours.creq")"
		return
	fi
	if ! theirs=$("$PYTHON" tests/sigv4/botocore_sign.py "$@" 2>"$TMP/theirs.creq"); then
		fail "$name" "botocore failed: $(tail -n 3 "$TMP/theirs.creq")"
		return
	fi
	if [ "$ours" = "$theirs" ]; then
		echo "PASS $name"
	else
		fail "$name" "Authorization differs"
		echo "    ours:     $ours"
		echo "    botocore: $theirs"
		diff -u "$TMP/theirs.creq" "$TMP/ours.creq" | sed 's/^/    /'
	fi
}

AKID=AKIAIOSFODNN7EXAMPLE
SECRET='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
TOKEN='IQoJb3JpZ2luX2VjEOr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example/token+with/slashes=='
JSON=application/x-amz-json-1.0

printf '%s' '{"TableName":"taskfleet-tasks","Item":{"id":{"S":"t-0001"},"state":{"S":"queued"},"iteration":{"N":"0"}},"ConditionExpression":"attribute_not_exists(id)"}' >"$TMP/putitem.json"
check dynamodb-putitem POST / "" us-east-1 dynamodb 20240229T235959Z "$AKID" "$SECRET" "$TMP/putitem.json" \
    "Host:dynamodb.us-east-1.amazonaws.com" "Content-Type:$JSON" \
    "X-Amz-Target:DynamoDB_20120810.PutItem" "X-Amz-Date:20240229T235959Z"

printf '%s' '{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/taskfleet-tasks","MessageBody":"{\"id\":\"t-0001\"}","DelaySeconds":30}' >"$TMP/send.json"
check sqs-sendmessage POST / "" eu-west-1 sqs 20260101T000000Z "$AKID" "$SECRET" "$TMP/send.json" \
    "Host:sqs.eu-west-1.amazonaws.com" "Content-Type:$JSON" \
    "X-Amz-Target:AmazonSQS.SendMessage" "X-Amz-Date:20260101T000000Z"

printf '%s' '{"TableName":"taskfleet-tasks","Key":{"id":{"S":"t-0001"}},"ConsistentRead":true}' >"$TMP/getitem.json"
check session-token POST / "" ap-southeast-2 dynamodb 20251231T235959Z "ASIAEXAMPLETEMPKEY01" "$SECRET" "$TMP/getitem.json" \
    "Host:dynamodb.ap-southeast-2.amazonaws.com" "Content-Type:$JSON" \
    "X-Amz-Target:DynamoDB_20120810.GetItem" "X-Amz-Date:20251231T235959Z" \
    "X-Amz-Security-Token:$TOKEN"

check local-standin-port POST / "" us-east-1 dynamodb 20150830T123600Z "$AKID" "$SECRET" "$TMP/getitem.json" \
    "Host:127.0.0.1:8000" "Content-Type:$JSON" \
    "X-Amz-Target:DynamoDB_20120810.GetItem" "X-Amz-Date:20150830T123600Z"

check unusual-path-query GET "/a/./b//c/../%7Euser/x%20y/caf%C3%A9/!\$'()*+,;=:@/" \
    "z=last&a=%E1%88%B4&a=1&flag&b=x%2Fy~z&A=upper&empty=" \
    us-west-2 execute-api 20150830T123600Z "$AKID" "$SECRET" "" \
    "Host:example.execute-api.us-west-2.amazonaws.com" "X-Amz-Date:20150830T123600Z" \
    "X-Custom:   spaced    out	value   " "X-Tabs:	a		b "

printf '%s' '{"MessageBody":"héllo wörld — ሴ 😀","Attributes":{"ключ":"值"}}' >"$TMP/utf8.json"
check utf8-body POST / "" us-east-1 sqs 20150830T123600Z "$AKID" "$SECRET" "$TMP/utf8.json" \
    "Host:sqs.us-east-1.amazonaws.com" "Content-Type:$JSON" \
    "X-Amz-Target:AmazonSQS.SendMessage" "X-Amz-Date:20150830T123600Z"

printf 'a\000b\377\376\r\n' >"$TMP/binary"
check binary-body POST /upload "" us-east-1 service 20150830T123600Z "$AKID" "$SECRET" "$TMP/binary" \
    "Host:example.amazonaws.com" "Content-Type:application/octet-stream" \
    "X-Amz-Date:20150830T123600Z"

check empty-body-get GET / "Action=ListQueues&Version=2012-11-05" us-east-1 sqs 20150830T123600Z "$AKID" "$SECRET" "" \
    "Host:sqs.us-east-1.amazonaws.com" "X-Amz-Date:20150830T123600Z"

: >"$TMP/empty"
check empty-body-post POST / "" us-east-1 dynamodb 20150830T123600Z "$AKID" "$SECRET" "$TMP/empty" \
    "Host:dynamodb.us-east-1.amazonaws.com" "Content-Type:$JSON" \
    "X-Amz-Target:DynamoDB_20120810.ListTables" "X-Amz-Date:20150830T123600Z"

# The published suite's form POST, whose signature is known independently.
printf '%s' 'Param1=value1' >"$TMP/form"
check aws-suite-post-x-www-form-urlencoded POST / "" us-east-1 service 20150830T123600Z \
    AKIDEXAMPLE 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' "$TMP/form" \
    "Content-Type:application/x-www-form-urlencoded" "Host:example.amazonaws.com" \
    "X-Amz-Date:20150830T123600Z"

exit $failed
