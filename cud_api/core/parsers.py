"""The JSON request parser: orjson for the bodies it reads, DRF's parser for the rest.

orjson refuses some bodies Python's json reads (a lone surrogate escape, a number beyond a
double, a charset other than UTF-8). Those fall back to DRF's own parsing, so a lone
surrogate still reaches validation and is named on its field, and malformed JSON is still
"JSON parse error - ..." with the same text. The one value that differs: an integer beyond
64 bits is a float here; no field of a todo write takes a number, so its answer is the same.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework.parsers import JSONParser


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


class OrjsonFirstJSONParser(JSONParser):
    """`application/json` through orjson; what orjson refuses goes to DRF's JSONParser."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Return the body's JSON value, or raise ParseError as DRF's JSONParser does."""
        raw = stream.read()
        if _is_utf8((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass  # DRF's parser decides: the same value or the same error as before
        return super().parse(io.BytesIO(raw), media_type, parser_context)
