"""Bad settings as one line each: which ``CDS_*`` variable, what is wrong with it, what is expected.

pydantic reports a bad value as a multi-line block that names the field, not the variable, and echoes the
value (a database URL with its password, the patient-hash key); pydantic-settings raises a bare traceback
when a JSON setting does not parse. An operator needs neither: :func:`settings_problems` turns both into
lines such as ``CDS_FHIR_TIMEOUT_S: Input should be a valid number; expected a number > 0, <= 60`` and
never repeats a value.
"""

from __future__ import annotations

import json
import re
import types
from enum import Enum
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, HttpUrl, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsError

ENV_PREFIX = "CDS_"
BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
SETTINGS_ERROR_FIELD = re.compile(r'field "(\w+)"')
VALUE_ERROR_PREFIX = "Value error, "


def variable(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def _kind(annotation: Any) -> str:
    base = _without_none(annotation)
    origin = get_origin(base)
    if isinstance(base, type) and issubclass(base, Enum):
        return "one of " + ", ".join(str(member.value) for member in base)
    simple = {bool: "true or false", int: "a whole number", float: "a number", HttpUrl: "an http(s) URL"}
    if base in simple:
        return simple[base]
    if base in (str, SecretStr):
        return "text"
    if origin is list:
        return 'a JSON list, e.g. ["https://ehr.example.org/fhir"]'
    if origin is dict:
        values = get_args(base)[1]
        if isinstance(values, type) and issubclass(values, BaseModel):
            return "a JSON object of " + ", ".join(values.model_fields) + " per key (see the README)"
        return "a JSON object"
    return "a valid value (see the README's Settings table)"


def expected(field: FieldInfo) -> str:
    """What ``field`` takes, from its type and bounds: "a number > 0, <= 60"."""
    bounds = [
        f"{symbol} {getattr(item, name)}"
        for item in field.metadata
        for name, symbol in BOUNDS
        if getattr(item, name, None) is not None
    ]
    return ", ".join([_kind(field.annotation), *bounds])


def _line(fields: dict[str, FieldInfo], name: str | None, problem: str) -> str:
    if name is None or name not in fields:
        return problem  # a rule across settings: its message names the variables
    return f"{variable(name)}: {problem}; expected {expected(fields[name])}"


def settings_problems(error: ValidationError | SettingsError, fields: dict[str, FieldInfo]) -> list[str]:
    """One line per problem; ``fields`` are the settings model's fields (``Settings.model_fields``)."""
    if isinstance(error, SettingsError):
        found = SETTINGS_ERROR_FIELD.search(str(error))
        cause = error.__cause__
        if isinstance(cause, json.JSONDecodeError):
            problem = f"not valid JSON ({cause.msg} at line {cause.lineno}, column {cause.colno})"
        else:
            problem = "cannot be read" + (f" ({type(cause).__name__})" if cause else "")
        return [_line(fields, found.group(1) if found else None, problem)]
    lines = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        message = item["msg"].removeprefix(VALUE_ERROR_PREFIX)
        name, *inner = [str(part) for part in item["loc"]] or [""]
        where = f" (at {'.'.join(inner)})" if inner else ""
        lines.append(_line(fields, name or None, f"{message}{where}"))
    return lines
