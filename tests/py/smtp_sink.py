"""A real SMTP server on loopback (aiosmtpd) for leakwatch's mail tests.

Usage: python3 smtp_sink.py PORT OUT [FAIL_FIRST [DELAY [TLS CERT KEY]]]

Every message it accepts is parsed with Python's own `email` package (independent of
leakwatch and lettre) and appended to OUT as one JSON line: envelope sender and
recipients, To, Subject, Message-ID and the decoded plain-text body. The first
FAIL_FIRST recipients are refused with 451 (try again later), as a busy or greylisting
server does. Every RCPT is also logged to OUT.events as it starts; with DELAY, each is held
that many seconds before it is answered — a slow server, so that a test can kill a client
while it waits for a message that has not been accepted yet (a kill after the server has
accepted a message but before the client has recorded that is RFC 1047's duplicate window,
which no SMTP client can close). Prints "ready" once listening; stops when its standard
input closes.
"""

import asyncio
import json
import ssl
import sys
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, fail_first, delay):
        self.out = out
        self.fail_left = fail_first
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with open(self.out + ".events", "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": "rcpt", "address": address}) + "\n")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 Busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "to": str(msg["to"]),
            "from": str(msg["from"]),
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"]),
            "tls": bool(session.ssl) or server.transport.get_extra_info("ssl_object") is not None,
            "list_unsubscribe": msg["list-unsubscribe"] and str(msg["list-unsubscribe"]),
            "body": body.get_content() if body is not None else None,
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    tls = sys.argv[5] if len(sys.argv) > 5 else ""
    options = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[6], sys.argv[7])
        if tls == "starttls":
            options = {"tls_context": context, "require_starttls": True}
        elif tls == "implicit":
            options = {"ssl_context": context}
        else:
            sys.exit(f"unknown TLS mode {tls}")
    sink = Sink(out, fail_first, delay)
    controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
