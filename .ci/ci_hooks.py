"""Schemathesis hooks for `.ci/schemathesis`.

Generated ids almost never name a real session or user, and generated
credentials never sign in, so on its own the run would only ever see 404s
and `invalid_grant`. Just before a positive request is sent, these hooks
now and then put in something real that the run may use up: a spare
session of the plain user, a victim account, the plain user's credentials.
They also keep the run from ending the session whose token it uses: a
`DELETE /api/v1/session` (sign-out) sent with the run's token goes out
with a spare token of its own instead, or an invalid one once those are
used up; one sent without it (the checks of missing or bad credentials)
is left alone.
"""

import itertools
import os
import uuid

import schemathesis
from schemathesis import GenerationMode

SPARE_SESSIONS = os.environ.get("GATEHOUSE_CI_SPARE_SESSIONS", "").split()
VICTIMS = [int(i) for i in os.environ.get("GATEHOUSE_CI_VICTIMS", "").split()]
PROTECTED_SESSION = os.environ.get("GATEHOUSE_CI_PROTECTED_SESSION", "")
LOGIN = os.environ.get("GATEHOUSE_CI_LOGIN", "")
PASSWORD = os.environ.get("GATEHOUSE_CI_PASSWORD", "")
SPARE_TOKENS = os.environ.get("GATEHOUSE_CI_SPARE_TOKENS", "").split()
RUN_TOKENS = set(os.environ.get("GATEHOUSE_CI_RUN_TOKENS", "").split())

# Every third positive request of an operation gets a real value.
CALLS = {name: itertools.count() for name in ("session", "user", "token")}


def _positive(case):
    meta = getattr(case, "_meta", None)
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


def _turn(kind):
    return next(CALLS[kind]) % 3 == 0


def _sends_run_token(case, kwargs):
    headers = {**(case.headers or {}), **(kwargs.get("headers") or {})}
    presented = headers.get("Authorization", "").removeprefix("Bearer ")
    return presented in RUN_TOKENS


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
    elif operation == "DELETE /api/v1/session" and _sends_run_token(case, kwargs):
        token = SPARE_TOKENS.pop() if SPARE_TOKENS else "spent"
        authorization = f"Bearer {token}"
        case.headers = {**(case.headers or {}), "Authorization": authorization}
        if isinstance(kwargs.get("headers"), dict):
            kwargs["headers"]["Authorization"] = authorization
    elif operation == "POST /api/v1/token":
        body = case.body
        if isinstance(body, dict) and _positive(case) and _turn("token"):
            body["username"] = LOGIN
            body["password"] = PASSWORD
            body.pop("otp", None)
