"""Schemathesis hooks for `.ci/schemathesis`.

Authentication: every operation but sign-out carries the run's token
(`GATEHOUSE_CI_TOKEN`). Sign-out (`DELETE /api/v1/session`) ends the
session it is sent with, so each of its requests signs in afresh as the
plain user and sends that new session's token: the run's own session
lives to the end, and schemathesis still probes sign-out without and with
bad credentials.

Real data: generated ids almost never name a real session or user, and
generated credentials never sign in, so on its own the run would only ever
see 404s and `invalid_grant`. Just before a positive request is sent, the
hooks now and then put in something real that the run may use up: a spare
session of the plain user, a victim account, the plain user's credentials.
"""

import itertools
import os
import uuid

import requests
import schemathesis
from schemathesis import GenerationMode

BASE = os.environ.get("GATEHOUSE_CI_BASE", "")
RUN_TOKEN = os.environ.get("GATEHOUSE_CI_TOKEN", "")
SPARE_SESSIONS = os.environ.get("GATEHOUSE_CI_SPARE_SESSIONS", "").split()
VICTIMS = [int(i) for i in os.environ.get("GATEHOUSE_CI_VICTIMS", "").split()]
PROTECTED_SESSION = os.environ.get("GATEHOUSE_CI_PROTECTED_SESSION", "")
LOGIN = os.environ.get("GATEHOUSE_CI_LOGIN", "")
PASSWORD = os.environ.get("GATEHOUSE_CI_PASSWORD", "")

SIGN_OUT = "DELETE /api/v1/session"
# Every third positive request of an operation gets a real value.
CALLS = {name: itertools.count() for name in ("session", "user", "token", "sign_in")}


def _bearer(case, token):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@schemathesis.auth(retry_on=[]).skip_for(name=SIGN_OUT)
class RunToken:
    """The token of the run's own session, for every other operation."""

    def get(self, case, context):
        return RUN_TOKEN

    def set(self, case, data, context):
        _bearer(case, data)


@schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(name=SIGN_OUT)
class FreshSession:
    """A session of its own for every sign-out."""

    def get(self, case, context):
        answer = requests.post(
            f"{BASE}/api/v1/token",
            data={"grant_type": "password", "username": LOGIN, "password": PASSWORD},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def set(self, case, data, context):
        _bearer(case, data)


def _positive(case):
    meta = getattr(case, "_meta", None)
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


def _turn(kind):
    return next(CALLS[kind]) % 3 == 0


@schemathesis.hook
def before_call(context, case, kwargs):
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    if operation == "DELETE /api/v1/sessions/{id}":
        if case.path_parameters.get("id") == PROTECTED_SESSION:
            case.path_parameters["id"] = str(uuid.uuid4())
        if SPARE_SESSIONS and _positive(case) and _turn("session"):
            case.path_parameters["id"] = SPARE_SESSIONS.pop()
    elif operation == "DELETE /api/v1/users/{id}":
        if VICTIMS and _positive(case) and _turn("user"):
            case.path_parameters["id"] = VICTIMS.pop()
    elif operation == "POST /api/v1/token":
        _real_credentials(case, "token", "username")
    elif operation == "POST /api/v1/session":
        _real_credentials(case, "sign_in", "login")


def _real_credentials(case, kind, login_field):
    body = case.body
    if isinstance(body, dict) and _positive(case) and _turn(kind):
        body[login_field] = LOGIN
        body["password"] = PASSWORD
        body.pop("otp", None)
