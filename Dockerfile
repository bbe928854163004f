# syntax=docker/dockerfile:1.7
# PMS image: `pms serve` as a non-root user. Migrations run as a separate one-shot
# container (`pms migrate`, see docker-compose.yml) so replicas never race on them.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY schema ./schema
COPY resolvers ./resolvers
COPY permissions ./permissions
COPY pms ./pms
RUN pip install .

FROM python:3.12-slim AS runtime
RUN groupadd --system pms \
    && useradd --system --gid pms --home-dir /app --shell /usr/sbin/nologin pms
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY alembic ./alembic
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PMS_ENV=prod \
    PMS_HOST=0.0.0.0 \
    PMS_PORT=8000
USER pms
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["pms"]
CMD ["serve"]
