"""Validation of a todo write without building a DRF serializer per request.

`TodoInputSerializer` (apis.py) stays the documented schema and the reference: this function
accepts, refuses and words its errors exactly as that serializer does (a unit test compares the
two over many inputs). It exists because the serializer deep-copies its fields on every
instantiation, which cost about a third of the write API's Python time per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rest_framework.exceptions import ValidationError

from contracts.limits import TITLE_MAX_LENGTH

FIELDS = ("title", "description", "completed")

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_A_STRING = "Must be a string."
NOT_A_BOOLEAN = "Must be a boolean (true or false)."
TOO_LONG = f"Ensure this field has no more than {TITLE_MAX_LENGTH} characters."
NULL_CHARACTERS = "Null characters are not allowed."
UNKNOWN = "Unknown field."
NOTHING_SENT = "Send at least one of: title, description, completed."


class _FieldError(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


def _text_checks(value: str, max_length: int | None) -> None:
    # DRF runs every validator of a CharField and reports all their messages, in this order.
    messages = []
    if max_length is not None and len(value) > max_length:
        messages.append(TOO_LONG)
    if "\x00" in value:
        messages.append(NULL_CHARACTERS)
    for char in value:
        if 0xD800 <= ord(char) <= 0xDFFF:
            messages.append(f"Surrogate characters are not allowed: U+{ord(char):X}.")
            break
    if messages:
        raise _FieldError(*messages)


def _title(raw: Any) -> str:
    if raw == "" or str(raw).strip() == "":
        raise _FieldError(BLANK)
    if raw is None:
        raise _FieldError(NULL)
    if not isinstance(raw, str):
        raise _FieldError(NOT_A_STRING)
    value = raw.strip()
    _text_checks(value, TITLE_MAX_LENGTH)
    return value


def _description(raw: Any) -> str:
    if raw == "":
        return ""
    if raw is None:
        raise _FieldError(NULL)
    if not isinstance(raw, str):
        raise _FieldError(NOT_A_STRING)
    _text_checks(raw, None)
    return raw


def _completed(raw: Any) -> bool:
    if raw is None:
        raise _FieldError(NULL)
    if not isinstance(raw, bool):
        raise _FieldError(NOT_A_BOOLEAN)
    return raw


_MISSING = object()
# name -> (check, default when omitted; _MISSING: required)
_RULES: tuple[tuple[str, Callable[[Any], Any], Any], ...] = (
    ("title", _title, _MISSING),
    ("description", _description, ""),
    ("completed", _completed, False),
)


def todo_input_validate(data: Any, *, partial: bool = False) -> dict[str, Any]:
    """Return the validated fields of a todo write, or raise DRF's ValidationError.

    Title required (PATCH: any non-empty subset of the fields), strings are strings, booleans
    are booleans, nothing unknown; same outcome and messages as `TodoInputSerializer`.
    """
    if data is None:
        raise ValidationError({"non_field_errors": ["No data provided"]})
    if not isinstance(data, Mapping):
        message = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
        raise ValidationError({"non_field_errors": [message]})
    value: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, check, default in _RULES:
        raw = data.get(name, _MISSING)
        if raw is _MISSING:
            if partial:
                continue
            if default is _MISSING:
                errors[name] = [REQUIRED]
            else:
                value[name] = default
            continue
        try:
            value[name] = check(raw)
        except _FieldError as exc:
            errors[name] = exc.messages
    for name in sorted(set(data) - set(FIELDS)):
        errors[name] = [UNKNOWN]
    if errors:
        raise ValidationError(errors)
    if partial and not value:
        raise ValidationError({"non_field_errors": [NOTHING_SENT]})
    return value
