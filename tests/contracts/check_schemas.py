#!/usr/bin/env python3
"""Checks the JSON Schemas in schemas/ against their examples, independently of the Rust code.

Every valid example must validate; every invalid JSON example must fail, except those whose rule
is a relation between fields or values that JSON Schema cannot express (listed in
CROSS_FIELD_RULES; the Rust contract test covers them). Exits non-zero on any mismatch.
"""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator, FormatChecker

ROOT = pathlib.Path(__file__).resolve().parents[2] / "schemas"
CROSS_FIELD_RULES = {"inconsistent"}


def main() -> int:
    failures, checked = [], 0
    for schema_path in sorted(ROOT.glob("*.schema.json")):
        topic = schema_path.name.removesuffix(".schema.json")
        schema = json.loads(schema_path.read_text())
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        for example in sorted((ROOT / "examples" / topic / "valid").glob("*.json")):
            checked += 1
            errors = list(validator.iter_errors(json.loads(example.read_text())))
            if errors:
                failures.append(f"{example}: valid example fails its schema: {errors[0].message}")
        for example in sorted((ROOT / "examples" / topic / "invalid").glob("*.json")):
            rule = example.stem.split("__")[1]
            if rule in CROSS_FIELD_RULES:
                continue
            checked += 1
            if validator.is_valid(json.loads(example.read_text())):
                failures.append(f"{example}: invalid example passes its schema")
    for failure in failures:
        print(failure)
    print(f"schemas: {checked - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
