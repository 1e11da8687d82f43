#!/usr/bin/env python3
"""moto_server that handles one request at a time.

moto evaluates a DynamoDB ConditionExpression and then writes without a
lock, so two concurrent conditional writes can both "win" against it even
though real DynamoDB lets exactly one through. Sentinel's race tests (50
parallel approvals, a revoke racing touches, ...) must test the conditional
writes, not the emulator's thread safety, so this launcher runs moto's own
WSGI app behind a global lock: connections stay concurrent and keep-alive,
requests are applied one after another, as a linearizable service would.

Usage: moto_server_serial.py -H 127.0.0.1 -p PORT   (the moto_server flags)
"""

import argparse
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            # Materialize the body inside the lock: the response is complete
            # before the next request is applied.
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serial, threaded=True)


if __name__ == "__main__":
    main()
