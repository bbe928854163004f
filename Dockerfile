# syntax=docker/dockerfile:1.7
# PMS image: `pms serve` (or `pms worker`, `pms migrate`) as a non-root user. Migrations
# run as a separate one-shot container (`pms migrate`, see docker-compose.yml and
# deploy/base/migrate-job.yaml) so replicas never race on them.
#
# Installs exactly what uv.lock pins, without the dev tools and without the [embedded]
# extra: the image has no embedded PostgreSQL, PMS_DATABASE_URL is required.

ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
RUN pip install "uv==0.13.9"
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# Dependencies first: this layer is rebuilt only when the lock changes.
RUN uv sync --frozen --no-dev --no-editable --no-install-project
COPY app ./app
COPY schema ./schema
COPY resolvers ./resolvers
COPY permissions ./permissions
COPY pms ./pms
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric uid: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 pms \
    && useradd --system --uid 10001 --gid pms --home-dir /app --shell /usr/sbin/nologin pms
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY alembic ./alembic
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PMS_ENV=prod \
    PMS_HOST=0.0.0.0 \
    PMS_PORT=8000
USER 10001:10001
EXPOSE 8000
# Ready = database reachable and migrated (not just "process up"): /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["pms"]
CMD ["serve"]
