#!/usr/bin/env bash
# One entry point for a fresh machine: installs what is missing, then runs the job.
#   ./run.sh demo [ioc demo options]   the main job: simulator -> Kafka -> workers -> TimescaleDB
#   ./run.sh test [pytest options]     lint, types and the full test suite against real servers
#   ./run.sh setup                     only install (Debian packages, .venv, Kafka jars, TimescaleDB chroot)
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(debootstrap prometheus prometheus-alertmanager docker-compose kcat)
# Apache Kafka runs on Java 17 with jars fetched by Maven (deploy/kafka/pom.xml).
command -v java >/dev/null || APT_PACKAGES+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || APT_PACKAGES+=(maven)

log() { printf '\033[1m[run.sh]\033[0m %s\n' "$*" >&2; }

install_debian_packages() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_env() {
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        python3 -m venv .venv
    fi
    local stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
    if [ ! -f "$stamp" ]; then
        log "installing smartcity-ioc and its dev tools into .venv"
        .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
        rm -f .venv/.installed-*
        touch "$stamp"
    fi
}

setup() {
    install_debian_packages
    install_python_env
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup)
        setup
        .venv/bin/ioc dev up --build-only
        ;;
    demo)
        setup
        exec .venv/bin/ioc demo "$@"
        ;;
    test)
        setup
        started=$(mktemp)
        .venv/bin/ioc dev up --record-started "$started"
        trap '.venv/bin/ioc dev down --only-recorded "$started" || true; rm -f "$started"' EXIT
        log "ruff check"; .venv/bin/ruff check .
        log "ruff format --check"; .venv/bin/ruff format --check .
        log "import-linter (layers, no cycles)"; .venv/bin/lint-imports
        log "mypy --strict"; .venv/bin/mypy --strict common schemas streams simulator sinks dashboards deploy ioc
        log "pytest"; .venv/bin/python -m pytest "$@"
        ;;
    *)
        echo "usage: ./run.sh demo|test|setup [options]" >&2
        exit 2
        ;;
esac
