"""Shared HTTP plumbing for the local OpenAI-compatible engine servers.

Only the standard library: a threading HTTP/1.1 server (keep-alive, so the agent's pooled
connections are reused), JSON and OpenAI-shaped error replies, bounded request bodies,
chunked streaming, and a `/health` route that answers once the engine is warm.
"""

import json
import logging
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger("local")


class HttpError(Exception):
    """A failure the client caused (or must hear about), sent as an OpenAI-style error body."""

    def __init__(self, status, message, kind="invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


class Handler(BaseHTTPRequestHandler):
    """Routes by (method, path) to `routes`; subclasses fill `routes` and `max_body`."""

    protocol_version = "HTTP/1.1"
    server_version = "voice-agent-local/1"
    routes = {}
    max_body = 1 << 20

    def setup(self):
        super().setup()
        # Small streamed chunks (TTS sentences) must leave at once, not wait for Nagle.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        started = time.perf_counter()
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        route = self.routes.get((method, path))
        try:
            if route is None:
                raise HttpError(404, f"no route {method} {path}", "not_found_error")
            route(self)
        except HttpError as e:
            self._error(e.status, e.message, e.kind)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (e.g. the agent cancelled a turn): nothing to answer.
            self.close_connection = True
        except Exception as e:  # an engine failure must still answer, as a 500
            LOG.exception("engine failure on %s", path)
            self._error(500, f"engine failure: {e}", "server_error")
        LOG.info("%s %s %.0f ms", method, path, (time.perf_counter() - started) * 1e3)

    def read_body(self):
        """The request body, refused when larger than `max_body` or without a length."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise HttpError(411, "chunked request bodies are not accepted; send Content-Length")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
        if length < 0 or length > self.max_body:
            self.close_connection = True
            raise HttpError(413, f"body of {length} bytes exceeds the limit of {self.max_body}")
        return self.rfile.read(length) if length else b""

    def read_json(self):
        """The body parsed as a JSON object."""
        try:
            body = json.loads(self.read_body() or b"{}")
        except (ValueError, UnicodeDecodeError) as e:
            raise HttpError(400, f"body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise HttpError(400, "body must be a JSON object")
        return body

    def send_bytes(self, status, content_type, data):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, obj):
        self.send_bytes(status, "application/json", json.dumps(obj).encode())

    def _error(self, status, message, kind):
        try:
            self.send_json(status, {"error": {"message": message, "type": kind, "code": status}})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def start_chunked(self, content_type):
        """Begins a streamed answer; follow with `write_chunk` calls and one `end_chunked`."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, fmt, *args):
        # The dispatcher logs one line per request with its duration; silence the default.
        pass


def health_route(ready_model):
    """GET /health and /v1/models: the engine is loaded and warm (the server listens only then)."""

    def health(h):
        h.send_json(200, {"status": "ok", "model": ready_model})

    def models(h):
        h.send_json(200, {"object": "list", "data": [{"id": ready_model, "object": "model"}]})

    return {("GET", "/health"): health, ("GET", "/v1/models"): models}


def serve(handler_cls, host, port, name):
    """Binds after the engine is warm, so a client that can connect gets a warm engine."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {name} %(levelname)s %(message)s")
    server = ThreadingHTTPServer((host, port), handler_cls)
    server.daemon_threads = True
    LOG.info("listening on http://%s:%d", host, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
