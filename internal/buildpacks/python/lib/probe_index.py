"""Check whether the package index pip uses can be reached.

Prints nothing and exits 0 when it answers (any HTTP status); prints
"<index>: <reason>" and exits 1 when it cannot be reached.
"""
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/"
parts = urllib.parse.urlsplit(index)
shown = urllib.parse.urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))
if parts.port:
    shown = urllib.parse.urlunsplit((parts.scheme, "%s:%d" % (parts.hostname, parts.port), parts.path, "", ""))
try:
    urllib.request.urlopen(index, timeout=float(os.environ.get("PIP_TIMEOUT") or 10))
except urllib.error.HTTPError:
    sys.exit(0)  # it answered
except (urllib.error.URLError, socket.timeout, OSError, ValueError) as e:
    reason = getattr(e, "reason", e)
    print("%s: %s" % (shown, reason))
    sys.exit(1)
