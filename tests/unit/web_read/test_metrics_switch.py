"""`GET /metrics` with the worker's metrics off (TODO_EDA_METRICS=0): a JSON 404 to anyone."""

from __future__ import annotations

from streams.monitoring import metrics


async def test_with_the_metrics_off_the_page_is_a_json_404(anonymous, tokens, monkeypatch):
    monkeypatch.setattr(metrics, "ENABLED", False)
    staff = {"Authorization": f"Bearer {tokens.access(staff=True)}"}
    for headers in ({}, staff):
        response = await anonymous.get("/metrics", headers=headers)
        assert response.status == 404
        assert response.headers["Content-Type"].startswith("application/json")
        assert "metrics are off" in (await response.json())["detail"].lower()
    monkeypatch.setattr(metrics, "ENABLED", True)
    assert (await anonymous.get("/metrics")).status == 200
