"""The git hosts of scripts/test-contract, one server, written from the hosts' API docs:
- GitLab's user API: `GET /api/v4/user` answers for the token in $WEBEDT_GIT_TOKEN
  (`PRIVATE-TOKEN` header), 401 otherwise, so createConnection's detection has something to find;
- GitHub (Enterprise layout: the site at `/`, the REST API under `/api/v3`): the OAuth token
  exchange, `GET /user`, `GET /user/repos`, `GET /repos/{o}/{r}/branches`,
  `POST /repos/{o}/{r}/pulls` and the grant deletion, for the Bearer token $WEBEDT_GIT_TOKEN;
- an OpenAI-compatible `/v1` base URL for createAiKey (nothing is called at creation).
Everything else is a 404. Prints its port, then serves."""

import http.server
import json
import os
import re
import sys

TOKEN = os.environ["WEBEDT_GIT_TOKEN"]
USER = {"id": 4242, "login": "fuzz", "name": "Fuzz"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def _bearer(self):
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        base = f"http://{self.headers.get('Host')}"
        if path == "/api/v4/user":
            if self.headers.get("PRIVATE-TOKEN") == TOKEN:
                return self._send(200, {"id": 1, "username": "fuzz", "name": "Fuzz"})
            return self._send(401, {"message": "401 Unauthorized"})
        if not path.startswith("/api/v3/"):
            return self._send(404, {"message": "Not Found"})
        if not self._bearer():
            return self._send(401, {"message": "Bad credentials"})
        if path == "/api/v3/user":
            return self._send(200, USER)
        if path == "/api/v3/user/repos":
            return self._send(200, [{
                "name": "repo", "full_name": "fuzz/repo", "owner": {"login": "fuzz"},
                "private": False, "archived": False, "default_branch": "main",
                "clone_url": f"{base}/fuzz/repo.git", "html_url": f"{base}/fuzz/repo",
                "pushed_at": "2026-12-01T00:00:00Z", "permissions": {"push": True},
            }])
        if re.fullmatch(r"/api/v3/repos/[^/]+/[^/]+/branches", path):
            return self._send(200, [{"name": "main", "commit": {"sha": "a" * 40}, "protected": False}])
        return self._send(404, {"message": "Not Found"})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        base = f"http://{self.headers.get('Host')}"
        if path == "/login/oauth/access_token":
            return self._send(200, {"access_token": TOKEN, "token_type": "bearer", "scope": "repo"})
        m = re.fullmatch(r"/api/v3/repos/([^/]+)/([^/]+)/pulls", path)
        if m and self._bearer():
            return self._send(201, {"number": 7, "html_url": f"{base}/{m[1]}/{m[2]}/pull/7"})
        return self._send(404, {"message": "Not Found"})

    def do_DELETE(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if re.fullmatch(r"/api/v3/applications/[^/]+/grant", self.path):
            self.send_response(204)
            self.end_headers()
            return
        self._send(404, {"message": "Not Found"})

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
