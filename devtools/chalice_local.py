"""`chalice local` exactly as its own command line runs it, with one change for concurrent clients: the listening
socket's backlog. Python's HTTP server keeps 5 waiting connections by default, so a ninth client connecting at the
same moment as eight others is reset; Lambda behind API Gateway would have accepted it.

    python -m devtools.chalice_local local --host 127.0.0.1 --port 8000 --stage dev --no-autoreload
"""
from __future__ import annotations

import sys

from chalice.cli import main
from chalice.local import ThreadedHTTPServer

ThreadedHTTPServer.request_queue_size = 128

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())
