"""The orjson-first parser reads every body as DRF's JSONParser does, and fails the same way."""

import io
import json

import pytest
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from cud_api.core.parsers import OrjsonFirstJSONParser

BODIES = [
    b'{"title": "ok", "description": "", "completed": false}',
    '{"title": "\u00e9\u2028\U0001f600", "x": [1, 2.5, null, true]}'.encode(),
    b'{"title": "a", "title": "last wins"}',
    b'  [{"title": "a list"}]  ',
    b'"just a string"',
    b'{"title": "a\\ud800b"}',  # a lone surrogate: orjson refuses it, Python's json reads it
    b'{"completed": 1e400}',  # beyond a double: orjson refuses it, Python's json reads inf
    b'{"title": "\\u0000"}',
]

MALFORMED = [
    b'{"title": "x",',
    b"",
    b"NaN",
    b'{"title": Infinity}',
    b"\xef\xbb\xbf{}",  # a UTF-8 BOM
    b'{"title": "\xff"}',  # not UTF-8
    b'{"title": "tab\tinside"}',
]


def _parse(parser, raw: bytes, encoding: str = "utf-8"):
    return parser.parse(io.BytesIO(raw), "application/json", {"encoding": encoding})


def _outcome(parser, raw: bytes, encoding: str = "utf-8"):
    try:
        return ("value", _parse(parser, raw, encoding))
    except ParseError as exc:
        return ("error", str(exc.detail))


@pytest.mark.parametrize("raw", BODIES)
def test_a_body_parses_to_the_value_drf_reads(raw):
    assert _parse(OrjsonFirstJSONParser(), raw) == _parse(JSONParser(), raw)


def test_a_lone_surrogate_reaches_validation_instead_of_a_parse_error():
    assert _parse(OrjsonFirstJSONParser(), b'{"title": "a\\ud800b"}') == {"title": "a\ud800b"}


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_json_is_the_same_parse_error(raw):
    ours = _outcome(OrjsonFirstJSONParser(), raw)
    assert ours[0] == "error"
    assert ours == _outcome(JSONParser(), raw)
    assert ours[1].startswith("JSON parse error - ")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_a_body_in_another_charset_is_decoded_in_that_charset(encoding):
    raw = json.dumps({"title": "caf\u00e9"}, ensure_ascii=False).encode(encoding)
    assert _parse(OrjsonFirstJSONParser(), raw, encoding) == {"title": "caf\u00e9"}


def test_an_unknown_charset_is_the_same_error():
    raw = b'{"title": "x"}'
    ours = _outcome(OrjsonFirstJSONParser(), raw, "no-such-charset")
    assert ours == _outcome(JSONParser(), raw, "no-such-charset")
