# Image of the ioc workers, sink, migrations and simulator (docker-compose.yml builds it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY common ./common
COPY schemas ./schemas
COPY streams ./streams
COPY simulator ./simulator
COPY sinks ./sinks
COPY dashboards ./dashboards
COPY deploy ./deploy
COPY ioc ./ioc
RUN pip install '.[preview]' \
    && useradd --system --uid 10001 --home-dir /var/lib/ioc --create-home ioc \
    && mkdir -p /var/lib/ioc/state \
    && chown -R ioc /var/lib/ioc

USER ioc
EXPOSE 9464 9465
ENTRYPOINT ["ioc"]
CMD ["--help"]
