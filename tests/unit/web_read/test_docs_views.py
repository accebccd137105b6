"""The OpenAPI document, the docs page and its assets, served by the read API's views."""

from __future__ import annotations

import re

import orjson
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from streams.monitoring.lag import PartitionLag
from web_read.docs import ASSETS
from web_read.openapi import build_document

COMPONENTS = build_document()["components"]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/schema"])
async def test_the_schema_is_served_as_json(client, path):
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "application/vnd.oai.openapi+json"
    assert orjson.loads(await response.read()) == build_document()


async def test_the_schema_is_served_as_yaml_when_asked(client):
    response = await client.get("/api/schema/?format=yaml")
    assert response.status == 200
    assert response.content_type == "application/vnd.oai.openapi"
    assert yaml.safe_load(await response.text()) == build_document()


@pytest.mark.parametrize("query", ["format=xml", "format=json&format=yaml", "pretty=1"])
async def test_a_bad_schema_query_is_a_400_with_a_detail(client, query):
    response = await client.get(f"/api/schema/?{query}")
    assert response.status == 400
    assert "detail" in await response.json()


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs"])
async def test_the_docs_page_loads_swagger_ui_from_the_worker_only(client, path):
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(url.startswith("/api/docs/assets/") for url in urls)
    assert 'url: "/api/schema/"' in page
    assert "persistAuthorization: true" in page  # Authorize's token survives a reload
    for url in urls:
        asset = await client.get(url)
        assert asset.status == 200, url
        assert asset.content_type == ASSETS[url.rsplit("/", 1)[1]]
        assert len(await asset.read()) > 0


async def test_the_swagger_bundle_is_the_real_one(client):
    body = await (await client.get("/api/docs/assets/swagger-ui-bundle.js")).read()
    assert b"SwaggerUIBundle" in body


@pytest.mark.parametrize(
    "name", ["swagger-ui.css.map", "LICENSE", "..%2F..%2F__init__.py", "nothing.js"]
)
async def test_any_other_asset_is_a_404_with_a_detail(client, name):
    response = await client.get(f"/api/docs/assets/{name}")
    assert response.status == 404
    assert await response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "query", ["complete=true", "page_size=5", "limit=5&limit=6", "completed=true&x=1"]
)
async def test_an_unknown_or_repeated_list_parameter_is_a_400(client, query):
    response = await client.get(f"/api/todos/?{query}")
    assert response.status == 400
    OAS30Validator({**COMPONENTS["schemas"]["Error"], "components": COMPONENTS}).validate(
        await response.json()
    )


async def test_a_query_on_the_detail_is_a_400(client):
    response = await client.get("/api/todos/42/?completed=true")
    assert response.status == 400
    assert "takes no query parameters" in (await response.json())["detail"]


@pytest.mark.parametrize("healthy", [True, False])
async def test_the_health_report_matches_the_health_schema(
    client, read_model, healthy, monkeypatch
):
    read_model.healthy = healthy
    monkeypatch.setattr("web_read.health.consumer_status", lambda app: (True, {"state": "x"}))
    monkeypatch.setattr("web_read.health.recovery_status", lambda app: (True, {"state": "y"}))
    monkeypatch.setattr(
        "web_read.health.pipeline_lag", lambda app: ([PartitionLag("todos", 0, 7, 3)], [])
    )
    response = await client.get("/health")
    assert response.status == (200 if healthy else 503)
    OAS30Validator({**COMPONENTS["schemas"]["Health"], "components": COMPONENTS}).validate(
        await response.json()
    )
