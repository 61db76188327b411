"""A real HTTP webhook receiver on loopback for leakwatch's alert tests.

Usage: python3 webhook_sink.py PORT OUT SECRET [FAIL_FIRST]

Checks each POST's X-Leakwatch-Signature itself, with Python's hmac (HMAC-SHA256 under
SECRET of "TIMESTAMP.BODY", compared in constant time) and that the timestamp is within
five minutes, then appends one JSON line to OUT: whether it was valid, the event and
delivery headers, and the parsed body. Answers 204 when valid, 401 when not; the first
FAIL_FIRST valid calls get 503 instead (a receiver that is down for a while). Prints
"ready" once listening; stops when its standard input closes.
"""

import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    port, out, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    fail_left = [int(sys.argv[4]) if len(sys.argv) > 4 else 0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            stamp = self.headers.get("X-Leakwatch-Timestamp", "")
            given = self.headers.get("X-Leakwatch-Signature", "")
            want = "sha256=" + hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 300
            valid = fresh and hmac.compare_digest(given, want)
            with lock:
                if valid and fail_left[0] > 0:
                    fail_left[0] -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                record = {
                    "valid": valid,
                    "event": self.headers.get("X-Leakwatch-Event"),
                    "delivery": self.headers.get("X-Leakwatch-Delivery"),
                    "content_type": self.headers.get("Content-Type"),
                    "body": json.loads(body) if valid else None,
                }
                with open(out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            self.send_response(204 if valid else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
