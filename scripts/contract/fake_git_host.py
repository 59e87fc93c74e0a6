"""A git host's user API for scripts/test-contract: `GET /api/v4/user` (GitLab) answers for the
token in $WEBEDT_GIT_TOKEN (`PRIVATE-TOKEN` header) and 401 otherwise; everything else is a 404,
so createConnection's detection has something to find. Prints its port, then serves."""

import http.server
import json
import os
import sys

TOKEN = os.environ["WEBEDT_GIT_TOKEN"]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/api/v4/user":
            self._send(404, {"message": "404 Not Found"})
        elif self.headers.get("PRIVATE-TOKEN") == TOKEN:
            self._send(200, {"id": 1, "username": "fuzz", "name": "Fuzz"})
        else:
            self._send(401, {"message": "401 Unauthorized"})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
