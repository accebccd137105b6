"""The request bodies of todo writes: one pydantic definition that validates and feeds OpenAPI.

Each rule is a JSON Schema keyword (type, length, pattern, additionalProperties), so the
published schema and the server agree by construction. Errors are reshaped into the error
envelope's `{field: [messages]}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from rest_framework.exceptions import ValidationError

from contracts.limits import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH


def _class_of(chars: str) -> str:
    """A regex character-class body for `chars`, as \\uXXXX ranges every dialect reads alike."""
    codes = sorted(ord(c) for c in chars)
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(
        f"\\u{low:04X}" if low == high else f"\\u{low:04X}-\\u{high:04X}" for low, high in ranges
    )


# What `str.strip()` removes (every character whose `isspace()` is true; a unit test holds the
# two equal): the title is trimmed of exactly these, and blank means only these.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_WS = _class_of(WHITESPACE)
# PostgreSQL text cannot hold U+0000. Explicit code points, so every regex dialect (pydantic's
# Rust engine here, ECMA-262 in OpenAPI, Python's `re` in test tools) reads them alike; the
# classes are disjoint, so no engine backtracks.
TITLE_PATTERN = rf"^[{_WS}]*[^\u0000{_WS}][^\u0000]*$"
DESCRIPTION_PATTERN = r"^[^\u0000]*$"

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_A_STRING = "Must be a string."
NOT_A_BOOLEAN = "Must be a boolean (true or false)."
TOO_LONG = f"Ensure this field has no more than {TITLE_MAX_LENGTH} characters."


def too_long(limit: int) -> str:
    """The message for a text longer than `limit` characters."""
    return f"Ensure this field has no more than {limit} characters."


NULL_CHARACTERS = "Null characters are not allowed."
SURROGATES = "Surrogate characters are not allowed."
UNKNOWN = "Unknown field."
NOTHING_SENT = "Send at least one of: title, description, completed."


def _trimmed(value: str) -> str:
    return value.strip()


Title = Annotated[
    str,
    Field(
        min_length=1,
        max_length=TITLE_MAX_LENGTH,
        pattern=TITLE_PATTERN,
        description=(
            f"At most {TITLE_MAX_LENGTH} characters as sent, not only whitespace, no U+0000; "
            "stored without leading and trailing whitespace."
        ),
    ),
    AfterValidator(_trimmed),
]
Description = Annotated[
    str,
    Field(
        max_length=DESCRIPTION_MAX_LENGTH,
        pattern=DESCRIPTION_PATTERN,
        description=f"Kept verbatim; at most {DESCRIPTION_MAX_LENGTH} characters; no U+0000.",
    ),
]
Completed = Annotated[bool, Field(description="A JSON boolean.")]

# Strict: no "true" for a boolean, no 12 for a string. Lone surrogates (which JSON's `\ud800`
# lets through) are refused by pydantic itself: they are not Unicode text.
_CONFIG = ConfigDict(strict=True, extra="forbid")


class TodoWrite(BaseModel):
    """A create (POST) or full update (PUT): title required, the rest defaulted."""

    model_config = _CONFIG

    title: Title
    description: Description = ""
    completed: Completed = False


def _patch_schema(schema: dict[str, Any]) -> None:
    # A PATCH sends some fields: none is defaulted, and an empty body is refused.
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)
    schema["minProperties"] = 1


class TodoPatch(BaseModel):
    """A partial update (PATCH): any non-empty subset of the fields."""

    model_config = ConfigDict(**_CONFIG, json_schema_extra=_patch_schema)

    title: Title = ""
    description: Description = ""
    completed: Completed = False


def _message(error: Any) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return REQUIRED
    if kind == "extra_forbidden":
        return UNKNOWN
    if value is None:
        return NULL
    if kind == "string_type":
        return NOT_A_STRING
    if kind == "bool_type":
        return NOT_A_BOOLEAN
    if kind == "string_too_long":
        return too_long(error["ctx"]["max_length"])
    if kind == "string_too_short":
        return BLANK
    if kind == "string_unicode":
        return SURROGATES
    if kind == "string_pattern_mismatch":
        return NULL_CHARACTERS if "\x00" in value else BLANK
    return str(error["msg"])


def _errors(exc: PydanticValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "non_field_errors"
        errors.setdefault(name, []).append(_message(error))
    return errors


def todo_input_validate(data: Any, *, partial: bool = False) -> dict[str, Any]:
    """Return the validated fields of a todo write (PATCH: those sent), or raise ValidationError."""
    if data is None:
        raise ValidationError({"non_field_errors": ["No data provided"]})
    if not isinstance(data, Mapping):
        message = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
        raise ValidationError({"non_field_errors": [message]})
    model = TodoPatch if partial else TodoWrite
    try:
        value = model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(_errors(exc)) from None
    if partial:
        sent = value.model_dump(exclude_unset=True)
        if not sent:
            raise ValidationError({"non_field_errors": [NOTHING_SENT]})
        return sent
    return value.model_dump()
