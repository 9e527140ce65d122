"""Apache Kafka's jars from Maven Central (pinned in ``deploy/kafka/pom.xml``), cached outside
the clone, and the ``java`` that runs them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path

from common.config import cache_dir, kafka_home
from common.errors import UserError
from deploy.devstack.server import Progress

POM = Path(__file__).resolve().parents[1] / "kafka" / "pom.xml"
LOG4J_CONFIG = POM.parent / "log4j2.properties"
MARKER = ".ioc-complete"


@cache
def kafka_version() -> str:
    """The Kafka version pinned in the pom."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if found is None:
        raise UserError(f"{POM} names no <kafka.version>: restore it from git")
    return found.group(1).strip()


def libs_dir() -> Path:
    """Directory of the broker's jars (the class path is ``libs_dir()/*``)."""
    return kafka_home(kafka_version()) / "libs"


def is_installed() -> bool:
    """Whether every jar was copied (an interrupted install leaves no marker)."""
    return (kafka_home(kafka_version()) / MARKER).is_file()


def java() -> str:
    """Path of ``java`` (Kafka 4 needs Java 17 or newer)."""
    found = shutil.which("java")
    if found is None:
        raise UserError("java not found: install openjdk-17-jre-headless (./run.sh setup does)")
    return found


def require_installed() -> Path:
    """The jars directory, or an error that says how to install it."""
    if not is_installed():
        raise UserError(
            f"Kafka {kafka_version()} jars missing in {libs_dir()}: run ./run.sh setup "
            "(or `.venv/bin/ioc dev up --only kafka`)"
        )
    return libs_dir()


def ensure_installed(progress: Progress) -> Path:
    """Copy the pinned broker and its runtime dependencies with Maven unless already done.

    Copies into a temporary sibling and renames it at the end, so an interrupted install is
    never used. Callers hold the stack lock.
    """
    home = kafka_home(kafka_version())
    if is_installed():
        return home / "libs"
    mvn = shutil.which("mvn")
    if mvn is None:
        raise UserError("mvn not found: install maven (./run.sh setup does)")
    java()
    partial = home.with_name(f"{home.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    progress(f"kafka: installing Apache Kafka {kafka_version()} from Maven Central into {home}")
    started = time.monotonic()
    argv = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        f"-Dmaven.repo.local={cache_dir() / 'maven-repository'}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={partial / 'libs'}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise UserError(
            f"kafka: Maven could not fetch the broker jars (needs repo.maven.apache.org):\n{tail}"
        )
    (partial / MARKER).write_text(kafka_version() + "\n")
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(home)
    progress(f"kafka: installed in {time.monotonic() - started:.0f} s")
    return home / "libs"
