"""Idempotency-Key on POST: one command per key, the first response replayed."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from streams.settings import DEFAULT_APP_ID as STREAMS_GROUP
from tests.integration.cud_api.conftest import sequence_last_value
from tests.support.polling import wait_for


def test_same_key_replays_the_first_response_and_emits_nothing_more(api, commands, pg):
    key = f"test-{uuid.uuid4()}"
    body = {"title": "pay rent", "completed": False}
    first = api.post("/api/todos/", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202
    allocated = sequence_last_value(pg)

    again = api.post("/todos", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    # No id allocated and exactly one command on the topic for this todo.
    assert sequence_last_value(pg) == allocated
    todo_id = first.json()["data"]["id"]
    commands.wait_for_command(first.json()["data"]["command_id"])
    commands.read_to_end()
    assert len(commands.for_todo(todo_id)) == 1


def test_concurrent_requests_with_one_key_emit_one_command(api, commands):
    key = f"race-{uuid.uuid4()}"

    def send(_):
        return api.post("/api/todos/", json={"title": "race"}, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(8)))
    # One request answers; one arriving while it is in flight is refused (409, retry in 1 s),
    # one arriving after it replays its response.
    assert {r.status_code for r in responses} <= {202, 409}, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.headers["Retry-After"] == "1"
    accepted = [r for r in responses if r.status_code == 202]
    assert sum("Idempotent-Replayed" not in r.headers for r in accepted) == 1
    assert len({r.json()["data"]["command_id"] for r in accepted}) == 1
    retry = send(None)
    assert retry.status_code == 202 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == accepted[0].json()
    todo_id = retry.json()["data"]["id"]
    commands.wait_for_command(retry.json()["data"]["command_id"])
    commands.read_to_end()
    assert len(commands.for_todo(todo_id)) == 1


def test_a_key_in_flight_is_409_at_once_and_free_once_answered(api, pg, user):
    key = f"in-flight-{uuid.uuid4()}"
    # What a request still being answered holds: the key's session advisory lock.
    pg.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [stored_key(user, key)])
    try:
        refused = api.post("/api/todos/", json={"title": "wait"}, headers={"Idempotency-Key": key})
    finally:
        pg.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [stored_key(user, key)])
    assert refused.status_code == 409
    assert refused.headers["Retry-After"] == "1"
    assert "still being processed" in refused.json()["message"]
    # The refusal stored nothing: the key's first answer comes now.
    first = api.post("/api/todos/", json={"title": "wait"}, headers={"Idempotency-Key": key})
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first.headers


def stored_key(user, key):
    """The key as the idempotency table holds it: scoped to the user who sent it."""
    return f"{user.user_id}:{key}"


def test_an_unanswered_key_emits_the_same_command_again_and_makes_no_second_todo(
    api, commands, pg, user
):
    key = f"unanswered-{uuid.uuid4()}"
    # A title no other test uses: counting todos by it finds a second todo under a new id.
    body = {"title": f"answer lost {key}", "description": "after Kafka acked"}
    first = api.post("/api/todos/", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202
    command_id = first.json()["data"]["command_id"]
    emitted = commands.wait_for_command(command_id)
    allocated = sequence_last_value(pg)
    # What a failure between Kafka's ack and storing the answer leaves: a promise unanswered.
    pg.execute(
        "UPDATE idempotency_keys SET status_code = NULL WHERE key = %s", [stored_key(user, key)]
    )

    retry = api.post("/api/todos/", json=body, headers={"Idempotency-Key": key})
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert "Idempotent-Replayed" not in retry.headers
    assert sequence_last_value(pg) == allocated

    def emitted_again():
        commands.poll()
        record = commands.records[command_id]
        return record if record.offset > emitted.offset else None

    again = wait_for(emitted_again, message="the same command emitted again")
    assert (again.partition, again.key) == (emitted.partition, emitted.key)
    assert again.value["data"] == emitted.value["data"]
    wait_for(
        lambda: commands.committed_by(STREAMS_GROUP, again.partition) > again.offset,
        timeout=60,
        message="the command agent past the command emitted again",
    )
    todo_id = first.json()["data"]["id"]
    counts = pg.execute(
        "SELECT (SELECT count(*) FROM todo_commands WHERE todo_id = %s),"
        " (SELECT count(*) FROM todos WHERE title = %s)",
        [todo_id, body["title"]],
    ).fetchone()
    assert counts == (1, 1)
    replayed = api.post("/api/todos/", json=body, headers={"Idempotency-Key": key})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json()


def test_different_keys_create_different_todos(api):
    ids = {
        api.post(
            "/api/todos/", json={"title": "same"}, headers={"Idempotency-Key": str(uuid.uuid4())}
        ).json()["data"]["id"]
        for _ in range(2)
    }
    assert len(ids) == 2


def test_key_reused_with_another_body_is_422(api):
    key = f"reuse-{uuid.uuid4()}"
    assert api.post("/api/todos/", json={"title": "a"}, headers={"Idempotency-Key": key}).ok
    response = api.post("/api/todos/", json={"title": "b"}, headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["errors"]


def test_invalid_request_does_not_use_up_the_key(api):
    key = f"invalid-first-{uuid.uuid4()}"
    bad = api.post("/api/todos/", json={"title": ""}, headers={"Idempotency-Key": key})
    assert bad.status_code == 400
    good = api.post("/api/todos/", json={"title": "ok"}, headers={"Idempotency-Key": key})
    assert good.status_code == 202
    assert "Idempotent-Replayed" not in good.headers


def test_key_older_than_24_hours_is_forgotten(api, pg, user):
    key = f"old-{uuid.uuid4()}"
    first = api.post("/api/todos/", json={"title": "old"}, headers={"Idempotency-Key": key})
    pg.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = %s",
        [stored_key(user, key)],
    )
    second = api.post("/api/todos/", json={"title": "old"}, headers={"Idempotency-Key": key})
    assert second.status_code == 202
    assert second.json()["data"]["id"] != first.json()["data"]["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_overlong_key_is_400(api):
    response = api.post("/api/todos/", json={"title": "x"}, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
