"""Verifies captured webhook deliveries with the reference `standardwebhooks` library (PyPI),
so the service's signatures are checked by code that is not ours.

Reads JSON lines {"secret", "headers", "body"} on stdin; prints "verified N" or exits 1 naming
the first delivery that fails."""

import json
import sys

from standardwebhooks.webhooks import Webhook

count = 0
for number, line in enumerate(sys.stdin, 1):
    message = json.loads(line)
    try:
        Webhook(message["secret"]).verify(message["body"], message["headers"])
    except Exception as error:  # the library raises its own verification error
        print(f"delivery {number} failed verification: {error!r}")
        sys.exit(1)
    count += 1
print(f"verified {count}")
