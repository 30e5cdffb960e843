"""A stand-in chat for trying the compose stack: prints every alert POSTed to it and answers 204.

Started by `docker compose --profile sink up`; the alerter reaches it as json+http://webhook-sink:8080/alerts.
With ACTORWATCH_WEBHOOK_SIGNING_SECRET set (the alerter's secret) each line says whether the signature holds,
by the same rule a real receiver should apply (see the README's "Delivery guarantee"). Standard library only,
so it runs in the actorwatch image without installing anything."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 4 * 1024 * 1024  # far above any card the alerter sends; a bound so a stray client cannot fill memory
MAX_SKEW_S = 300


def signature_state(body: bytes, secret: str | None, timestamp: str | None, signature: str | None) -> str:
    if not secret:
        return "unchecked"
    if not timestamp or not signature:
        return "missing"
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    try:
        fresh = abs(time.time() - int(timestamp)) <= MAX_SKEW_S
    except ValueError:
        return "bad timestamp"
    if not hmac.compare_digest(expected, signature):
        return "BAD"
    return "ok" if fresh else "stale"


def summary(body: bytes) -> str:
    """The card's headline fields when the body is the generic JSON payload; else its size."""
    try:
        payload = json.loads(body)
    except ValueError:
        return f"{len(body)} bytes (not JSON)"
    if not isinstance(payload, dict):
        return f"{len(body)} bytes"
    counterparts = payload.get("counterparts")
    names = [
        f"{c.get('name')} [{c.get('country')}, {c.get('level')}]" for c in counterparts or [] if isinstance(c, dict)
    ]
    parts = [str(payload.get("actor_name") or "?"), ", ".join(names), str(payload.get("article_title") or "")]
    return " | ".join(part for part in parts if part)


class Sink(BaseHTTPRequestHandler):
    secret: str | None = None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        state = signature_state(
            body, self.secret, self.headers.get("X-Actorwatch-Timestamp"), self.headers.get("X-Actorwatch-Signature")
        )
        alert_id = self.headers.get("X-Actorwatch-Alert-Id", "-")
        print(f"webhook-sink {self.path} alert={alert_id} signature={state}: {summary(body)}", flush=True)
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # a liveness answer for whoever looks
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"webhook-sink: POST alerts here\n")

    def log_message(self, format: str, *args: object) -> None:  # one line per alert is printed above
        return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    Sink.secret = os.environ.get("ACTORWATCH_WEBHOOK_SIGNING_SECRET") or None
    server = ThreadingHTTPServer((args.host, args.port), Sink)
    print(f"webhook-sink: listening on {args.host}:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C when run by hand
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
