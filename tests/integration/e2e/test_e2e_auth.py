"""Owners and credentials through the whole stack: each user sees and changes only their own.

Users sign up on the write API (tests/support/users.py); tokens that must fail are built here
from the stack's own key folders, so each is wrong in exactly one way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compose import accounts
from compose.launcher import IsolatedStack
from contracts import auth
from contracts.records import encode_command, encode_todo_key
from tests.support.pipeline import Pipeline
from tests.support.polling import wait_for
from tests.support.users import access_claims

REALM = 'Bearer realm="todo-eda"'
# The write API's per-todo reads and writes are under /api/todos/<id>/ like the read API's.
LIST = "/api/todos/"


@pytest.fixture(scope="module")
def alice(pipeline: Pipeline) -> Iterator[Pipeline]:
    """A user of her own, registered for this module."""
    clients = pipeline.as_user()
    yield clients
    clients.close()


@pytest.fixture(scope="module")
def bob(pipeline: Pipeline) -> Iterator[Pipeline]:
    """Another user, registered for this module."""
    clients = pipeline.as_user()
    yield clients
    clients.close()


def _write_list(user: Pipeline) -> list[int]:
    """Every id the write API lists for `user`, following its `next` links."""
    ids: list[int] = []
    url: str | None = f"{user.cud_url}{LIST}?limit=1000"
    while url:
        response = user.http.get(url, timeout=10)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        ids.extend(todo["id"] for todo in data["results"])
        url = data["next"]
    return ids


def _created(user: Pipeline, titles: list[str]) -> list[int]:
    ids = [user.create(title) for title in titles]
    for todo_id in ids:
        user.wait_todo(todo_id, lambda todo: True)
    return ids


def test_each_user_sees_only_their_own_todos_on_both_apis(alice: Pipeline, bob: Pipeline):
    alices = _created(alice, ["alice 1", "alice 2", "alice 3"])
    bobs = _created(bob, ["bob 1", "bob 2"])

    assert [t["id"] for t in alice.list_all()] == alices
    assert [t["id"] for t in bob.list_all()] == bobs
    assert _write_list(alice) == alices and _write_list(bob) == bobs
    assert alice.pg_ids() == alices and bob.pg_ids() == bobs
    missing = alice.read("/api/todos/999999999999/")
    assert missing.status_code == 404
    for reader, others in ((alice, bobs), (bob, alices)):
        for todo_id in others:
            # Another's todo reads exactly like one that does not exist: its id does not leak.
            response = reader.read(f"/api/todos/{todo_id}/")
            assert (response.status_code, response.json()) == (404, missing.json())
            on_write = reader.http.get(f"{reader.cud_url}/api/todos/{todo_id}/", timeout=10)
            assert on_write.status_code == 404, on_write.text
    for completed in (True, False):
        listed = alice.read(f"/api/todos/?completed={str(completed).lower()}&limit=1000")
        assert [t["id"] for t in listed.json()] == alice.pg_ids(completed)


def _row(user: Pipeline, todo_id: int) -> tuple[Any, ...] | None:
    with user.pg() as conn:
        return conn.execute(
            "SELECT title, description, completed, version, owner_id FROM todos WHERE id = %s",
            (todo_id,),
        ).fetchone()


def _mongo_entry(user: Pipeline, todo_id: int) -> dict[str, Any] | None:
    return user.mongo_live_todos().get(todo_id)  # the public fields only


def _commands_of(user: Pipeline, command_ids: list[uuid.UUID]) -> dict[str, tuple[str, str]]:
    with user.pg() as conn:
        rows = conn.execute(
            "SELECT command_id::text, status, coalesce(reason, '') FROM todo_commands"
            " WHERE command_id = ANY(%s)",
            ([str(c) for c in command_ids],),
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_another_users_put_patch_delete_are_refused_and_change_nothing(
    alice: Pipeline, bob: Pipeline
):
    (todo_id,) = _created(alice, ["alice's own"])
    before_row = _row(alice, todo_id)
    before_read = alice.read(f"/api/todos/{todo_id}/").json()
    before_mongo = _mongo_entry(alice, todo_id)
    assert before_mongo == before_read

    url = f"{bob.cud_url}/api/todos/{todo_id}/"
    body = {"title": "bob was here", "description": "", "completed": True}
    for method, payload in (("PUT", body), ("PATCH", {"title": "bob was here"}), ("DELETE", None)):
        response = bob.http.request(method, url, json=payload, timeout=10)
        assert response.status_code == 404, (method, response.text)

    # Past the write API's early check: commands naming Bob, straight onto the topic. The
    # command agent must reject them as if the todo did not exist.
    sent = []
    for operation, data in (("update", {"title": "bob was here"}), ("delete", {})):
        command_id = uuid.uuid4()
        sent.append(command_id)
        value = encode_command(
            command_id=command_id,
            todo_id=todo_id,
            operation=operation,  # type: ignore[arg-type]
            data=data,
            timestamp=datetime.now(UTC),
            owner_id=bob.owner_id,
        )
        bob.produce("todos", encode_todo_key(todo_id), value)

    def decided() -> dict[str, tuple[str, str]] | None:
        found = _commands_of(bob, sent)
        return found if len(found) == len(sent) else None

    outcomes = wait_for(decided, timeout=30, message="Bob's commands decided")
    assert set(outcomes.values()) == {("rejected", f"todo {todo_id} does not exist")}

    # Alice's own change after them, on the same partition: once it shows, theirs were seen.
    alice.write("PATCH", f"/api/todos/{todo_id}/", {"description": "alice's marker"})
    seen = alice.wait_todo(todo_id, lambda t: t["description"] == "alice's marker")
    assert before_row is not None
    after_row = _row(alice, todo_id)
    assert after_row is not None
    assert (after_row[0], after_row[2], after_row[4]) == (
        before_row[0],
        before_row[2],
        alice.owner_id,
    )
    assert (seen["title"], seen["completed"]) == (before_read["title"], before_read["completed"])
    assert _mongo_entry(alice, todo_id) == seen
    assert todo_id in {t["id"] for t in alice.list_all()}
    assert todo_id not in {t["id"] for t in bob.list_all()}


def test_a_todo_given_to_another_owner_by_sql_moves_to_their_list(alice: Pipeline, bob: Pipeline):
    (todo_id,) = _created(alice, ["handed over"])
    with alice.pg() as conn:
        conn.execute(
            "UPDATE todos SET owner_id = %s, version = version + 1 WHERE id = %s",
            (bob.owner_id, todo_id),
        )
    bob.wait_todo(todo_id, lambda todo: todo["title"] == "handed over")
    alice.wait_gone(todo_id)
    assert todo_id in {t["id"] for t in bob.list_all()}
    assert todo_id not in {t["id"] for t in alice.list_all()}


def test_an_update_made_in_postgresql_shows_to_the_owner(alice: Pipeline):
    # psql stands in for the Django admin here: both write the row directly, CDC carries it.
    (todo_id,) = _created(alice, ["before the edit"])
    with alice.pg() as conn:
        conn.execute(
            "UPDATE todos SET title = 'edited directly', version = version + 1 WHERE id = %s",
            (todo_id,),
        )
    alice.wait_todo(todo_id, lambda todo: todo["title"] == "edited directly")
    wait_for(
        lambda: any(t["title"] == "edited directly" for t in alice.list_all()),
        timeout=30,
        message="the edit in the owner's list",
    )


class _ChangeForm(HTMLParser):
    """The fields of a Django admin change form, as a browser would submit them unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect inputs, textareas and selected options."""
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields[name] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        """Take a textarea's text."""
        if self._textarea:
            self.fields[self._textarea] += data.removeprefix("\n")

    def handle_endtag(self, tag: str) -> None:
        """Close a textarea or a select."""
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def _form(response: requests.Response) -> dict[str, str]:
    parser = _ChangeForm()
    parser.feed(response.text)
    return parser.fields


def test_an_edit_in_the_django_admin_shows_to_the_owner(stack: IsolatedStack, alice: Pipeline):
    (todo_id,) = _created(alice, ["before the admin"])
    username, password = f"staff-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    accounts.manage(
        stack.settings,
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        f" User.objects.create_superuser({username!r}, '', {password!r})",
        log_name="test-admin",
    )
    admin = requests.Session()
    login_url = f"{alice.cud_url}/admin/login/"
    form = _form(admin.get(login_url, timeout=10))
    response = admin.post(
        login_url,
        data={**form, "username": username, "password": password, "next": "/admin/"},
        timeout=10,
    )
    assert response.status_code == 200 and "log out" in response.text.lower(), response.text
    change_url = f"{alice.cud_url}/admin/todos/todo/{todo_id}/change/"
    page = admin.get(change_url, timeout=10)
    assert page.status_code == 200, page.text
    fields = _form(page)
    fields.update({"title": "edited in the admin", "_save": "Save"})
    saved = admin.post(change_url, data=fields, timeout=10)
    assert saved.status_code == 200 and "errornote" not in saved.text, saved.text
    alice.wait_todo(todo_id, lambda todo: todo["title"] == "edited in the admin")
    with alice.pg() as conn:
        row = conn.execute("SELECT owner_id FROM todos WHERE id = %s", (todo_id,)).fetchone()
    assert row == (alice.owner_id,)


# --- bad credentials ------------------------------------------------------------------------


def _signing_key(stack: IsolatedStack) -> tuple[str, Ed25519PrivateKey]:
    """The stack's active private key (the test reads the write API's own folder)."""
    key = auth.load_signing_key(stack.settings.auth_key_dirs()[0])
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return key.kid, private


def _claims(owner: int, **changes: Any) -> dict[str, Any]:
    return access_claims(owner, **changes)


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return jwt.utils.base64url_encode(json.dumps(obj).encode()).decode()

    return f"{part(header)}.{part(claims)}."


Credential = Callable[[IsolatedStack, Pipeline], dict[str, str]]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signed(**changes: Any) -> Credential:
    def build(stack: IsolatedStack, user: Pipeline) -> dict[str, str]:
        kid, private = _signing_key(stack)
        token = jwt.encode(
            _claims(user.owner_id, **changes), private, algorithm="EdDSA", headers={"kid": kid}
        )
        return _bearer(token)

    return build


def _other_key(kid_of_stack: bool) -> Credential:
    def build(stack: IsolatedStack, user: Pipeline) -> dict[str, str]:
        stranger = Ed25519PrivateKey.generate()
        kid = _signing_key(stack)[0] if kid_of_stack else auth.key_id(stranger.public_key())
        token = jwt.encode(
            _claims(user.owner_id), stranger, algorithm="EdDSA", headers={"kid": kid}
        )
        return _bearer(token)

    return build


def _alg_none(stack: IsolatedStack, user: Pipeline) -> dict[str, str]:
    kid = _signing_key(stack)[0]
    return _bearer(_unsigned({"alg": "none", "typ": "JWT", "kid": kid}, _claims(user.owner_id)))


def _hs256_with_the_public_key(stack: IsolatedStack, user: Pipeline) -> dict[str, str]:
    # The classic confusion: the public key (public knowledge) used as an HMAC secret.
    kid, private = _signing_key(stack)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = _unsigned(header, _claims(user.owner_id))[:-1]
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return _bearer(f"{signing_input}.{jwt.utils.base64url_encode(mac).decode()}")


def _no_kid(stack: IsolatedStack, user: Pipeline) -> dict[str, str]:
    _, private = _signing_key(stack)
    return _bearer(jwt.encode(_claims(user.owner_id), private, algorithm="EdDSA"))


def _refresh(stack: IsolatedStack, user: Pipeline) -> dict[str, str]:
    return _bearer(user.user.refresh)


def _fixed(headers: dict[str, str]) -> Credential:
    return lambda stack, user: headers


BAD_CREDENTIALS: dict[str, Credential] = {
    "malformed": _fixed(_bearer("not-a-token")),
    "three garbage parts": _fixed(_bearer("abc.def.ghi")),
    "empty bearer": _fixed({"Authorization": "Bearer "}),
    "another scheme": _fixed({"Authorization": "Basic ZGVtbzpkZW1v"}),
    "wrong signature": _other_key(kid_of_stack=True),
    "unknown kid": _other_key(kid_of_stack=False),
    "no kid": _no_kid,
    "alg none": _alg_none,
    "HS256 with the public key": _hs256_with_the_public_key,
    "expired": _signed(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "another issuer": _signed(iss="someone-else"),
    "no issuer": _signed(iss=None),
    "no exp": _signed(exp=None),
    "refresh token as access": _refresh,
    "token_type refresh": _signed(token_type="refresh"),
    "user id not a number": _signed(user_id="alice"),
}


def _assert_refused(response: requests.Response, *, token_sent: bool) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith(REALM), challenge
    if token_sent:
        assert 'error="invalid_token"' in challenge, challenge
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json(), dict)


@pytest.mark.parametrize("path", ["/api/todos/", "/api/todos/1/", "/todos/"])
def test_no_token_gets_401_with_a_bearer_challenge_on_both_apis(pipeline: Pipeline, path: str):
    for base in (pipeline.read_url, pipeline.cud_url):
        response = requests.get(f"{base}{path}", timeout=10)
        _assert_refused(response, token_sent=False)


@pytest.mark.parametrize("case", list(BAD_CREDENTIALS))
def test_each_bad_credential_gets_401_with_json_on_both_apis(
    stack: IsolatedStack, alice: Pipeline, case: str
):
    headers = BAD_CREDENTIALS[case](stack, alice)
    token_sent = (
        headers["Authorization"].startswith("Bearer ") and headers["Authorization"] != "Bearer "
    )
    for url in (
        f"{alice.read_url}/api/todos/",
        f"{alice.read_url}/api/todos/1/",
        f"{alice.cud_url}/api/todos/",
    ):
        response = requests.get(url, headers=headers, timeout=10)
        _assert_refused(response, token_sent=token_sent)
        token = headers["Authorization"].removeprefix("Bearer ")
        if len(token) > 8:
            assert token not in response.text  # never echoed back
    create = requests.post(
        f"{alice.cud_url}/api/todos/", json={"title": f"with {case}"}, headers=headers, timeout=10
    )
    assert create.status_code == 401, create.text
    with alice.pg() as conn:
        assert (
            conn.execute("SELECT 1 FROM todos WHERE title = %s", (f"with {case}",)).fetchone()
            is None
        )


def test_a_well_formed_token_of_this_stack_is_accepted_on_both_apis(
    stack: IsolatedStack, alice: Pipeline
):
    # The counterpart of the cases above: the same builder with nothing wrong passes.
    headers = _signed()(stack, alice)
    for url in (f"{alice.read_url}/api/todos/", f"{alice.cud_url}/api/todos/"):
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 200, response.text


# Requests per API per probe: each API runs several processes (gunicorn workers, each with
# its own short user cache), and every one of them must refuse.
PROBE_REQUESTS = 20
# How long a write API process may trust a user row it read (CUD_API_USER_CACHE_SECONDS).
USER_CACHE_SECONDS = 5.0


def _refused_everywhere(
    user: Pipeline, headers: dict[str, str], *, changed_at: float
) -> Callable[[], bool]:
    """Refused by both APIs, and the write API's user caches are all past the change.

    The kernel may hand every probe request to the same gunicorn worker, so refusals alone
    do not show that a worker which read the row before the change has reread it since.
    """

    def probe() -> bool:
        codes = {
            base: {
                requests.get(f"{base}/api/todos/", headers=headers, timeout=10).status_code
                for _ in range(PROBE_REQUESTS)
            }
            for base in (user.read_url, user.cud_url)
        }
        if any(answers != {401} for answers in codes.values()):
            raise AssertionError(f"answers {codes}")  # the timeout's message shows the last
        return time.monotonic() - changed_at > USER_CACHE_SECONDS

    return probe


def test_a_user_deactivated_in_postgresql_is_refused_on_both_apis(pipeline: Pipeline):
    carol = pipeline.as_user()
    try:
        headers = carol.user.headers()
        for base in (carol.read_url, carol.cud_url):
            assert requests.get(f"{base}/api/todos/", headers=headers, timeout=10).ok
        with carol.pg() as conn:
            conn.execute("UPDATE auth_user SET is_active = false WHERE id = %s", (carol.owner_id,))
        changed_at = time.monotonic()
        # The read side learns it from the users' change stream (Debezium -> Kafka -> worker).
        refused = _refused_everywhere(carol, headers, changed_at=changed_at)
        wait_for(refused, timeout=60, message="carol refused")
        for base in (carol.read_url, carol.cud_url):
            response = requests.get(f"{base}/api/todos/", headers=headers, timeout=10)
            _assert_refused(response, token_sent=True)
    finally:
        carol.close()


def test_a_deleted_user_is_refused_on_both_apis(stack: IsolatedStack, pipeline: Pipeline):
    dave = pipeline.as_user()
    try:
        headers = dave.user.headers()
        assert requests.get(f"{dave.read_url}/api/todos/", headers=headers, timeout=10).ok
        # Through Django, as the admin deletes a user: its ORM removes what refers to the row.
        accounts.manage(
            stack.settings,
            "shell",
            "-c",
            "from django.contrib.auth.models import User;"
            f" User.objects.filter(id={dave.owner_id}).delete()",
            log_name="test-admin",
        )
        with dave.pg() as conn:
            row = conn.execute("SELECT 1 FROM auth_user WHERE id = %s", (dave.owner_id,))
            assert row.fetchone() is None
        refused = _refused_everywhere(dave, headers, changed_at=time.monotonic())
        wait_for(refused, timeout=60, message="dave refused")
    finally:
        dave.close()
