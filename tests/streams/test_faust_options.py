"""The Faust settings of a worker (streams.worker.faust_options)."""

from __future__ import annotations

from pathlib import Path

import faust
import pytest

from common.config import Settings, load
from common.errors import UserError
from streams.worker.faust_options import app_options


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


def test_processing_guarantee_is_at_least_once_unless_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IOC_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("IOC_PROCESSING_GUARANTEE", raising=False)
    assert app_options(Settings())["processing_guarantee"] == "at_least_once"
    monkeypatch.setenv("IOC_PROCESSING_GUARANTEE", "exactly_once")
    assert app_options(Settings())["processing_guarantee"] == "exactly_once"
    monkeypatch.setenv("IOC_PROCESSING_GUARANTEE", "exactly-once")
    expected = r"IOC_PROCESSING_GUARANTEE: .*'at_least_once' or 'exactly_once'"
    with pytest.raises(UserError, match=expected):
        load()
