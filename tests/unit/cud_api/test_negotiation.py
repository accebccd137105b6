"""The negotiation shortcut picks what DRF's default negotiation picks, for every Accept."""

import pytest
from drf_orjson_renderer.renderers import ORJSONRenderer
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from cud_api.core.negotiation import FirstRendererNegotiation

RENDERER_SETS = {
    "api": [ORJSONRenderer()],
    "schema": [OpenApiYamlRenderer(), OpenApiJsonRenderer()],
}
ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/vnd.oai.openapi",
    "application/vnd.oai.openapi+json",
    "text/html",
    "text/html, */*;q=0.1",
    "application/*",
]


def _choice(negotiation, renderers, accept, query="", suffix=None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/todos/{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except NotAcceptable:
        return "406"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", RENDERER_SETS.values(), ids=RENDERER_SETS.keys())
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=", "?limit=5"])
def test_the_same_renderer_and_media_type_as_drf(renderers, accept, query):
    ours = _choice(FirstRendererNegotiation(), renderers, accept, query)
    assert ours == _choice(DefaultContentNegotiation(), renderers, accept, query)


def test_a_format_suffix_is_negotiated_as_drf_does():
    renderers = RENDERER_SETS["schema"]
    ours = _choice(FirstRendererNegotiation(), renderers, "*/*", suffix="json")
    assert ours == _choice(DefaultContentNegotiation(), renderers, "*/*", suffix="json")
    assert ours[0] == "OpenApiJsonRenderer"
