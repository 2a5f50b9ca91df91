"""Checks pika-news' OpenAPI document and answers against it.

    python3 openapi_check.py DOCUMENT.json EXAMPLES.json

DOCUMENT.json is the document the server serves. EXAMPLES.json is a list of
{"method", "path", "uri", "status", "body"}: answers the server gave, where
"path" is the route's path template. The document is validated with
openapi-spec-validator; each body with the schema the document gives for that
route and status (OpenAPI 3.1 dialect, formats checked). Exit 0: all good;
1: something does not match (each problem is printed); 3: a package is missing.
"""

import json
import sys

try:
    from openapi_schema_validator import OAS31Validator, oas31_format_checker
    from openapi_spec_validator import validate as validate_spec
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)


def resolve(doc, node):
    """Follows a local "$ref" (one level at a time) to the object it names."""
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def main():
    doc_file, examples_file = sys.argv[1], sys.argv[2]
    with open(doc_file) as f:
        doc = json.load(f)
    with open(examples_file) as f:
        examples = json.load(f)

    validate_spec(doc)
    print("document: valid OpenAPI", doc["openapi"])

    problems = 0
    for ex in examples:
        where = f'{ex["method"].upper()} {ex["uri"]} -> {ex["status"]}'
        op = doc["paths"].get(ex["path"], {}).get(ex["method"])
        if op is None:
            print(f"{where}: route {ex['path']} is not in the document")
            problems += 1
            continue
        response = resolve(doc, op["responses"].get(str(ex["status"])))
        if response is None:
            print(f"{where}: status {ex['status']} is not documented")
            problems += 1
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            print(f"{where}: no JSON schema for this answer")
            problems += 1
            continue
        # The schema's "#/components/..." references resolve against this root.
        rooted = dict(schema, components=doc["components"])
        validator = OAS31Validator(rooted, format_checker=oas31_format_checker)
        errors = sorted(validator.iter_errors(ex["body"]), key=lambda e: list(e.path))
        for err in errors:
            at = "/".join(str(p) for p in err.absolute_path) or "(top)"
            print(f"{where}: at {at}: {err.message}")
        problems += len(errors)
        if not errors:
            print(f"{where}: matches its schema")

    print(f"{len(examples)} answers checked, {problems} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
