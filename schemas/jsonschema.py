"""Generate the JSON Schema files of the wire models into ``schemas/json/``.

Run ``python -m schemas.jsonschema`` after changing a model (``--check`` only compares).
The files are deterministic (sorted keys, two-space indent, trailing newline); a test fails
when they drift from the models. Cross-field rules (e.g. ``components_reused <=
components_total``, per-kind sensor ranges) are enforced by the models only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import orjson
from pydantic import BaseModel

from schemas.events import DossierEvent, ProbeEvent, SensorReading
from schemas.kpi import KpiWindow

JSON_DIR: Final = Path(__file__).resolve().parent / "json"
SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

MODELS: Final[dict[str, type[BaseModel]]] = {
    "dossier_event.json": DossierEvent,
    "probe_event.json": ProbeEvent,
    "sensor_reading.json": SensorReading,
    "kpi_window.json": KpiWindow,
}


def render(model: type[BaseModel], file_name: str) -> bytes:
    """The schema file content of ``model``."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = f"https://smartcity-ioc.example/schemas/{file_name}"
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def expected_files() -> dict[str, bytes]:
    """File name -> content, for every model."""
    return {name: render(model, name) for name, model in MODELS.items()}


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of schema files missing or different from what the models generate."""
    stale = []
    for name, content in expected_files().items():
        path = directory / name
        if not path.is_file() or path.read_bytes() != content:
            stale.append(name)
    return stale


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write every schema file; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in expected_files().items():
        path = directory / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the files, or with ``--check`` report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(
        prog="python -m schemas.jsonschema", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--dir", type=Path, default=JSON_DIR, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name} (run python -m schemas.jsonschema)")
        return 1 if stale else 0
    for path in write(args.dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
