"""The compare report's versioned schema, as a JSON Schema document, and a validator for it.

``REPORT_SCHEMA`` is standard JSON Schema (draft 2020-12), so other tools can validate a report
with any JSON Schema library. :func:`validate_report` needs no library: it interprets only the
keywords the schema uses (type, properties, required, additionalProperties, items, minItems,
maxItems, enum, const, minimum, $ref into $defs) and names the first offending field.

Readers refuse an unknown ``schema`` string instead of guessing: a v2 report may mean different
things by the same keys.
"""
from __future__ import annotations

from typing import Any, List

from msgan_eval.metrics.registry import METRIC_NAMES as METRICS  # every metric a report can hold
from msgan_eval.metrics.registry import OVERALL_VERDICTS
from msgan_eval.metrics.registry import VERDICTS as VERDICT_NAMES

SCHEMA_ID = "msgan-eval/report/v1"
RUNS = ("baseline", "candidate")

_NUMBER = {"type": "number"}
_INTERVAL = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
_SHA256 = {"type": "string", "minLength": 64, "maxLength": 64}
_METRIC_MAP = {k: {"$ref": "#/$defs/estimate"} for k in METRICS}

REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "msgan-eval compare report",
    "type": "object",
    "required": ["schema", "version", "metrics", "runs", "deltas", "verdicts", "skipped",
                 "inputs", "bootstrap", "parameters", "provenance"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "version": {"type": "string"},
        "metrics": {"type": "array", "items": {"enum": list(METRICS)}},
        "runs": {
            "type": "object", "required": list(RUNS), "additionalProperties": False,
            "properties": {run: {"type": "object", "properties": _METRIC_MAP,
                                 "additionalProperties": False} for run in RUNS},
        },
        "deltas": {"type": "object", "additionalProperties": False,
                   "properties": {k: {"$ref": "#/$defs/delta"} for k in METRICS}},
        "verdicts": {"type": "object", "additionalProperties": False,
                     "properties": {k: {"enum": list(VERDICT_NAMES)} for k in METRICS}},
        # the joint verdict (metrics/overall.py); reports written before it lack it
        "overall": {"type": "object", "required": ["verdict", "reasons"],
                    "properties": {"verdict": {"enum": list(OVERALL_VERDICTS)},
                                   "reasons": {"type": "array", "items": {"type": "string"}},
                                   "better": {"type": "array", "items": {"enum": list(METRICS)}},
                                   "worse": {"type": "array", "items": {"enum": list(METRICS)}}}},
        "skipped": {"type": "object", "additionalProperties": False,
                    "properties": {k: {"type": "string"} for k in METRICS}},
        "inputs": {
            "type": "object", "required": [*RUNS, "reference"], "additionalProperties": False,
            "properties": {k: {"$ref": "#/$defs/input"} for k in (*RUNS, "reference")},
        },
        "bootstrap": {
            "type": "object", "required": ["n", "seed", "confidence", "method"],
            "properties": {"n": {"type": "integer", "minimum": 1}, "seed": {"type": "integer"},
                           "confidence": _NUMBER, "method": {"type": "string"}},
        },
        "parameters": {"type": "object",
                       "properties": {"processes": {"type": "integer", "minimum": 1},
                                      "kid_subsets": {"type": "integer", "minimum": 1},
                                      "kid_subset_size": {"type": "integer", "minimum": 2},
                                      "prdc_k": {"type": "integer", "minimum": 1}}},
        "provenance": {
            "type": "object", "required": ["tool", "packages", "weights", "command"],
            "properties": {
                "tool": {"type": "object", "required": ["name", "version"]},
                "packages": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                "weights": {"type": "object", "additionalProperties": {"$ref": "#/$defs/weights"}},
                "command": {"type": "array", "items": {"type": "string"}},
            },
        },
        "details": {"type": "object"},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
    "$defs": {
        "estimate": {
            "type": "object", "required": ["value", "ci"],
            "properties": {"value": _NUMBER, "ci": _INTERVAL, "bias": _NUMBER},
        },
        "delta": {
            "type": "object", "required": ["value", "ci", "better"],
            "properties": {"value": _NUMBER, "ci": _INTERVAL, "better": {"enum": ["lower", "higher"]}},
        },
        "input": {
            "type": "object", "required": ["path", "n_images", "conditions", "fingerprint"],
            "properties": {"path": {"type": "string"}, "n_images": {"type": "integer", "minimum": 0},
                           "conditions": {"type": "integer", "minimum": 0},
                           "skipped_files": {"type": "integer", "minimum": 0},
                           "fingerprint": _SHA256},
        },
        "weights": {
            "type": "object", "required": ["sha256"],
            "properties": {"sha256": _SHA256, "source": {"type": "string"},
                           "path": {"type": "string"}},
        },
    },
}


class ReportInvalid(ValueError):
    """A report that does not follow ``REPORT_SCHEMA``; the message names the field."""


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    # JSON has one number type; booleans are not numbers even though Python says so.
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate_report(report: Any) -> None:
    """Raise :class:`ReportInvalid` naming the first field that breaks ``REPORT_SCHEMA``."""
    if isinstance(report, dict) and report.get("schema") not in (None, SCHEMA_ID):
        raise ReportInvalid(f"schema {report['schema']!r} is not supported; this msgan-eval reads "
                            f"{SCHEMA_ID!r} (re-run compare with this version)")
    _validate(report, REPORT_SCHEMA, [])


def _where(path: List[str]) -> str:
    return ".".join(path) if path else "the report"


def _validate(value: Any, schema: dict, path: List[str]) -> None:
    if "$ref" in schema:
        schema = REPORT_SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    if "const" in schema and value != schema["const"]:
        raise ReportInvalid(f"{_where(path)}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise ReportInvalid(f"{_where(path)}: {value!r} is not one of {', '.join(map(str, schema['enum']))}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            raise ReportInvalid(f"{_where(path)}: expected {' or '.join(types)}, "
                                f"got {type(value).__name__}")
    if "minimum" in schema and value < schema["minimum"]:
        raise ReportInvalid(f"{_where(path)}: {value} is below {schema['minimum']}")
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            raise ReportInvalid(f"{_where(path)}: string of length {len(value)} has the wrong length")
    if isinstance(value, list):
        _validate_array(value, schema, path)
    if isinstance(value, dict):
        _validate_object(value, schema, path)


def _validate_array(value: list, schema: dict, path: List[str]) -> None:
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
        raise ReportInvalid(f"{_where(path)}: {len(value)} items, expected "
                            f"{schema.get('minItems', 0)}..{schema.get('maxItems', 'any')}")
    for i, item in enumerate(value):
        if "items" in schema:
            _validate(item, schema["items"], path[:-1] + [f"{path[-1] if path else ''}[{i}]"])


def _validate_object(value: dict, schema: dict, path: List[str]) -> None:
    for key in schema.get("required", []):
        if key not in value:
            raise ReportInvalid(f"{_where(path + [key])}: missing")
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            _validate(item, props[key], path + [key])
        elif extra is False:
            raise ReportInvalid(f"{_where(path + [key])}: unknown field")
        elif isinstance(extra, dict):
            _validate(item, extra, path + [key])
