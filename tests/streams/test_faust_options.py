"""The Faust settings of a worker (streams.faust_options)."""

from __future__ import annotations

from pathlib import Path

import faust
import pytest

from streams.config import Settings
from streams.faust_options import app_options


def test_local_files_go_to_the_state_dir_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state" / "nested"
    monkeypatch.setenv("IOC_STATE_DIR", str(state))
    monkeypatch.chdir(tmp_path)
    app = faust.App("options-test", **app_options(Settings()))
    assert state.is_dir()
    assert app.conf.datadir == state / "options-test-data"
    assert app.conf.tabledir.is_relative_to(state)
