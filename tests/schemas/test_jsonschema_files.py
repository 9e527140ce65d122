"""The committed JSON Schema files match the models."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas import jsonschema


def test_committed_schemas_match_models() -> None:
    stale = jsonschema.stale_files()
    assert stale == [], f"regenerate with `python -m schemas.jsonschema`: {stale}"


def test_generation_is_deterministic_and_sorted() -> None:
    first = jsonschema.expected_files()
    assert first == jsonschema.expected_files()
    for content in first.values():
        assert content.endswith(b"}\n")
        schema = orjson.loads(content)
        assert list(schema) == sorted(schema)
        assert schema["additionalProperties"] is False


def test_check_reports_drift(tmp_path: Path) -> None:
    assert jsonschema.main(["--check", "--dir", str(tmp_path)]) == 1
    assert jsonschema.main(["--dir", str(tmp_path)]) == 0
    assert jsonschema.main(["--check", "--dir", str(tmp_path)]) == 0
    path = tmp_path / "sensor_reading.json"
    path.write_bytes(path.read_bytes().replace(b'"maximum": 100', b'"maximum": 101'))
    assert jsonschema.stale_files(tmp_path) == ["sensor_reading.json"]
