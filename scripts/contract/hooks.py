"""Schemathesis hooks for scripts/test-contract: authentication that the fuzzer cannot sabotage.

Logout, a password change, revoking a login session and deleting a session all destroy what
later cases would need, so every case of the example, coverage and fuzzing phases gets an
account of its own (registered here, Bearer token). The stateful phase follows links from a
created session to its own resources, which needs one account across a scenario's steps: there a
worker thread keeps its account until a step may have ended it.

Half of the cases on a `{id}` path get an id their account owns (a session, its login session,
or for the admin routes another user), so every operation is reached past its 404.
Counts of 2xx answers per operation are written to $CONTRACT_COUNTS at exit.
"""

import ast
import atexit
import collections
import http.cookiejar
import json
import os
import random
import re
import subprocess
import sys
import threading
import uuid

import requests
import schemathesis

BASE = os.environ["WEBEDT_BASE"]
PASSWORD = os.environ["WEBEDT_FUZZ_PASSWORD"]
ADMIN_EMAIL = os.environ["WEBEDT_ADMIN_EMAIL"]
COOKIE = "webedt_session"

SESSION_OPS = {
    "getSession", "renameSession", "deleteSession", "restoreSession", "listEvents",
    "streamEvents", "resumeEvents", "sendMessage", "interruptRun", "createShare", "revokeShare",
    "starSession", "unstarSession", "uploadImage",
}
# GitHub routes: half their positive cases run as an account connected to the fake GitHub.
GITHUB_OPS = {"listRepositories", "listBranches", "createPullRequest"}
# A 1x1 PNG (what uploadImage accepts; its own type check reads the magic bytes).
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
# The read-only routes of a share link: half their positive cases get a live link's token.
SHARED_OPS = {"getSharedSession", "listSharedEvents", "streamSharedEvents"}
GIT_HOST = os.environ.get("WEBEDT_GIT_HOST")
GIT_TOKEN = os.environ.get("WEBEDT_GIT_TOKEN")
ADMIN_USER_OPS = {"adminDisableUser", "adminEnableUser", "adminStopUserRuns"}
ADMIN_OPS = ADMIN_USER_OPS | {"adminListUsers", "adminAuditLog"}
# Steps after which a stateful account may no longer work.
SPENDS_ACCOUNT = {"logout", "changePassword", "revokeLoginSession"}

# CPython 3.11 can fail `ast.parse` run by two threads at once ("AST constructor recursion depth
# mismatch", gh-106905); hypothesis parses lambda sources in every worker thread.
if sys.version_info < (3, 12):
    _ast_parse, _ast_lock = ast.parse, threading.Lock()

    def _serialised_parse(*args, **kwargs):
        with _ast_lock:
            return _ast_parse(*args, **kwargs)

    ast.parse = _serialised_parse

# Hypothesis seeds the global `random` the same way for every example: a generator of our own.
_random = random.Random(os.environ.get("CONTRACT_SEED"))
_http = requests.Session()
# A new connection per hook request: the API closes a kept-alive connection after
# HTTP_HEADER_TIMEOUT_MS idle, and a request racing that close fails without a response.
_http.headers["Connection"] = "close"
# Never send a cookie back: a cookie-authenticated write would (rightly) be refused as CSRF.
_http.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
_local = threading.local()
_lock = threading.Lock()
_ok = collections.Counter()
_total = collections.Counter()


def _post(path, body, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = _http.post(BASE + path, json=body, headers=headers, timeout=30)
    r.raise_for_status()
    return r


def token_of(response):
    """The session token from the response's `Set-Cookie`."""
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == COOKIE, cookie
    return rest.split(";", 1)[0]


def register():
    """A new account: (email, token)."""
    email = f"fuzz-{uuid.uuid4().hex}@example.com"
    return email, token_of(_post("/api/auth/register", {"email": email, "password": PASSWORD}))


def login(email):
    return token_of(_post("/api/auth/login", {"email": email, "password": PASSWORD}))


def connect_github(token):
    """A GitHub connection (a token checked against the fake GitHub's `/api/v3/user`)."""
    r = _http.post(BASE + "/api/connections",
                   json={"host": f"http://{GIT_HOST}", "token": GIT_TOKEN, "provider": "github"},
                   headers={"Authorization": f"Bearer {token}"}, timeout=30)
    # 409: a stateful scenario's account connected already (one connection per host and kind).
    if r.status_code != 409:
        r.raise_for_status()


def code_session_with_a_push(token):
    """A code session on the fake GitHub whose working branch has a pushed head. Creating a code
    session needs a coding worker and a run on it records the head; the contract run has
    neither, so a chat session is made one here, as the worker's report would leave it."""
    sid = _post("/api/sessions", {}, token).json()["id"]
    subprocess.run(["psql", os.environ["DATABASE_URL"], "-qAtc",
                    f"UPDATE chat_sessions SET repository = 'http://{GIT_HOST}/fuzz/repo.git', "
                    f"base_branch = 'main', working_branch = 'webedt/{sid.replace('-', '')}', "
                    f"base_commit = '{'a' * 40}', head_commit = '{'b' * 40}' WHERE id = '{sid}'"],
                   check=True, capture_output=True)
    return sid


def op_id(case):
    return case.operation.definition.raw.get("operationId", "")


def positive(case):
    """Whether the case was generated to be valid (hooks must not turn a negative case valid)."""
    meta = case.meta
    return meta is not None and meta.generation.mode.value == "positive"


def phase(case):
    meta = case.meta
    return meta.phase.name.value if meta is not None else ""


def account_for(case):
    """(email, token) of the account this case runs as."""
    if op_id(case) in ADMIN_OPS:
        # The administrator's password never changes and nothing a case does can end a login
        # made for it alone (it cannot disable itself).
        return ADMIN_EMAIL, login(ADMIN_EMAIL)
    if phase(case) == "stateful":
        if getattr(_local, "account", None) is None:
            _local.account = register()
        return _local.account
    return register()


def own_id(case, token):
    """An id for the `{id}` of the case that its account can use."""
    name = op_id(case)
    if name in SESSION_OPS:
        _local.owned = _post("/api/sessions", {}, token).json()["id"]
        return _local.owned
    if name == "getShare":
        owned = _post("/api/sessions", {}, token).json()["id"]
        _post(f"/api/sessions/{owned}/share", {}, token)
        return owned
    if name == "deleteConnection" and GIT_HOST:
        r = _post("/api/connections", {"host": f"http://{GIT_HOST}", "token": GIT_TOKEN}, token)
        return r.json().get("id")
    if name == "createPullRequest" and GIT_HOST:
        connect_github(token)
        return code_session_with_a_push(token)
    if name == "getImage":
        owned = _post("/api/sessions", {}, token).json()["id"]
        image = _post(f"/api/sessions/{owned}/images", {"data": PNG}, token).json()["id"]
        _local.image = (owned, image)
        return owned
    if name == "revokeLoginSession":
        r = _http.get(BASE + "/api/auth/session", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        return r.json()["session"]["id"]
    if name in ADMIN_USER_OPS:
        _, other = register()
        r = _http.get(BASE + "/api/auth/session", headers={"Authorization": f"Bearer {other}"}, timeout=30)
        return r.json()["user"]["id"]
    return None


@schemathesis.hook
def before_call(context, case, kwargs):
    """Signs the case in as its account and points it at what the account owns. A hook rather
    than an auth provider: schemathesis applies those after the body is serialised."""
    email, token = account_for(case)
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {token}"
    # A cookie would make writes subject to the CSRF check; the token is the credential.
    case.cookies = {}
    name = op_id(case)
    if name in ("startGithubConnection", "finishGithubConnection"):
        # Their answer is the redirect itself (to GitHub, or back to the UI).
        kwargs["allow_redirects"] = False
    if phase(case) != "stateful" and "id" in (case.path_parameters or {}) and _random.random() < 0.5:
        own = own_id(case, token)
        if own is not None:
            case.path_parameters["id"] = own
    if name == "getImage":
        image, _local.image = getattr(_local, "image", None), None
        if image and case.path_parameters.get("id") == image[0]:
            case.path_parameters["image"] = image[1]
    if name in GITHUB_OPS - {"createPullRequest"} and GIT_HOST and positive(case) and _random.random() < 0.5:
        connect_github(token)
        if name == "listBranches":
            case.path_parameters["owner"], case.path_parameters["repo"] = "fuzz", "repo"
    if name == "finishGithubConnection" and positive(case) and _random.random() < 0.5:
        # A state this login started, as GitHub would hand it back with a code.
        r = _http.get(BASE + "/api/connections/github/start", allow_redirects=False,
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
        m = re.search(r"[?&]state=([^&]+)", r.headers.get("location", ""))
        if m:
            case.query = {"code": "fuzz-code", "state": requests.utils.unquote(m[1])}
    if name in SHARED_OPS and positive(case) and _random.random() < 0.5:
        owned = _post("/api/sessions", {}, token).json()["id"]
        link = _post(f"/api/sessions/{owned}/share", {}, token).json()["token"]
        case.headers["X-Share-Token"] = link
    if name == "interruptRun" and case.path_parameters.get("id") == getattr(_local, "owned", None):
        # Something to interrupt: a run of the demo provider lasts a few tens of milliseconds.
        _http.post(BASE + f"/api/sessions/{_local.owned}/send", json={"message": "hi"},
                   headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if not positive(case) or not isinstance(case.body, dict):
        return
    if name == "changePassword" and _random.random() < 0.8:
        # The right current password, so the change itself is exercised.
        case.body["currentPassword"] = PASSWORD
    if name == "login" and _random.random() < 0.5:
        case.body["email"], case.body["password"] = email, PASSWORD
    if name == "createConnection" and GIT_HOST and _random.random() < 0.5:
        # The fake git host and its token, so a connection is really made.
        case.body["host"], case.body["token"] = f"http://{GIT_HOST}", GIT_TOKEN
        if case.body.get("provider") not in (None, "gitlab"):
            case.body.pop("provider", None)
    if name == "uploadImage" and _random.random() < 0.5:
        case.body = {"data": PNG}
    if name == "createAiKey" and GIT_HOST and _random.random() < 0.5:
        # An allowlisted OpenAI-compatible base URL, so a key is really stored.
        case.body = {"provider": "openai", "baseUrl": f"http://{GIT_HOST}/v1", "key": "sk-fuzz-key"}
    if name == "executeRemote" and _random.random() < 0.5:
        # Continue an own session, or start a new one.
        if _random.random() < 0.5:
            case.body["websiteSessionId"] = _post("/api/sessions", {}, token).json()["id"]
        else:
            case.body.pop("websiteSessionId", None)


def succeeded(name, response):
    """2xx, or for the sign-in redirects the redirect that means success."""
    if os.environ.get("CONTRACT_DEBUG") and name in os.environ["CONTRACT_DEBUG"]:
        print(name, response.status_code, response.headers.get("location"), response.text[:200], file=sys.stderr)
    location = response.headers.get("location") or ""
    if isinstance(location, list):  # schemathesis gives each header as a list of values
        location = " ".join(location)
    if name == "startGithubConnection":
        return response.status_code == 302 and "/login/oauth/authorize" in location
    if name == "finishGithubConnection":
        return response.status_code == 303 and "github=connected" in location
    return 200 <= response.status_code < 300


@schemathesis.hook
def after_call(context, case, response):
    name = op_id(case)
    with _lock:
        _total[name] += 1
        if succeeded(name, response):
            _ok[name] += 1
    if phase(case) == "stateful" and (name in SPENDS_ACCOUNT or response.status_code == 401):
        _local.account = None


@atexit.register
def _write_counts():
    """Adds this run's counts to $CONTRACT_COUNTS (the script runs schemathesis twice)."""
    path = os.environ.get("CONTRACT_COUNTS")
    if not path:
        return
    ok, total = collections.Counter(_ok), collections.Counter(_total)
    if os.path.exists(path):
        with open(path) as f:
            before = json.load(f)
        ok.update(before["ok"])
        total.update(before["total"])
    with open(path, "w") as f:
        json.dump({"ok": dict(ok), "total": dict(total)}, f, indent=1, sort_keys=True)
