#!/usr/bin/env python3
"""Signs one request with botocore's SigV4Auth, offline and at a fixed time.

Same arguments as sign_cli:
  botocore_sign.py method path query region service amz-date key-id secret
      body-file [name:value ...]

botocore sets X-Amz-Date itself (from the patched clock) and
X-Amz-Security-Token itself (from the credentials), so those two header
arguments are not copied onto the request: the date must equal amz-date, the
token becomes the credentials' session token. Every other header is set as
given, and Host must be among them (it names the URL's host too), so both
signers sign exactly the same headers. Prints the Authorization value on
stdout and botocore's canonical request on stderr. Nothing is sent anywhere.
"""
import datetime
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main(argv):
    if len(argv) < 10:
        sys.exit(__doc__)
    method, path, query, region, service, amz_date, akid, secret, body_file = argv[1:10]
    when = datetime.datetime.strptime(amz_date, '%Y%m%dT%H%M%SZ')
    token = None
    host = None
    headers = []
    for arg in argv[10:]:
        name, sep, value = arg.partition(':')
        if not sep:
            sys.exit('header without ":": ' + arg)
        lname = name.lower()
        if lname == 'x-amz-date':
            if value.strip() != amz_date:
                sys.exit('x-amz-date header differs from amz-date')
            continue
        if lname == 'x-amz-security-token':
            token = value
            continue
        if lname == 'host':
            host = value.strip()
        headers.append((name, value))
    if host is None:
        sys.exit('a Host header is required')
    body = b''
    if body_file:
        with open(body_file, 'rb') as f:
            body = f.read()

    url = 'https://' + host + path + ('?' + query if query else '')
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value
    auth = botocore.auth.SigV4Auth(Credentials(akid, secret, token), service, region)

    captured = {}
    canonical_request = auth.canonical_request

    def capture(req):
        captured['creq'] = canonical_request(req)
        return captured['creq']

    auth.canonical_request = capture
    # Recent botocore reads the clock through get_current_datetime(); older
    # releases (Debian 12 ships 1.29) call datetime.datetime.utcnow().
    if hasattr(botocore.auth, 'get_current_datetime'):
        patch = mock.patch('botocore.auth.get_current_datetime', return_value=when)
    else:
        fake = mock.Mock(wraps=datetime)
        fake.datetime = mock.Mock(wraps=datetime.datetime)
        fake.datetime.utcnow.return_value = when
        patch = mock.patch('botocore.auth.datetime', fake)
    with patch:
        auth.add_auth(request)
    sys.stderr.write(captured.get('creq', '') + '\n')
    print(request.headers['Authorization'])


if __name__ == '__main__':
    main(sys.argv)
