# syntax=docker/dockerfile:1
# Track My Events: the four service images, one build target each. The build context is the
# repository (see /.dockerignore), so this file sits at its root:
#   docker build --target gateway    -t trackmyevents/gateway .     # public HTTP: routing, auth, ingest, dashboard
#   docker build --target users      -t trackmyevents/users .       # accounts, login sessions, tokens, projects, write keys
#   docker build --target tracking   -t trackmyevents/tracking .    # analytics over stored events
#   docker build --target subscriber -t trackmyevents/subscriber .  # Redis Stream consumer group -> PostgreSQL
# Stages: deps (pinned, hashed wheels into a virtualenv) and web (the dashboard and the browser SDK,
# built with npm from their lock files) -> base (slim Python, no compilers, no Node: the venv and
# services/, shared by every image) -> one target per service (its port, user and command; the
# gateway's adds the built dashboard and SDK) -> <service>-dev (Tilt live update).
# There is no default image: a build without --target stops at the last stage with a message.

FROM python:3.11.14-slim-trixie AS deps
WORKDIR /build
COPY requirements.lock ./
# Wheels only (no compiler needed), every file checked against its hash from requirements.lock.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes --only-binary=:all: -r requirements.lock

# The gateway's OpenAPI document, which the dashboard's TypeScript types are generated from
# (`npm run schema` in the web stage); written by the project's Python, without a server.
FROM deps AS openapi
COPY services ./services
RUN /opt/venv/bin/python -m services.gateway.openapi_dump openapi.json

FROM node:22.21.1-trixie-slim AS web
# The browser SDK (sdk/, esbuild) and the dashboard (dashboard/, vite) build into
# services/gateway/static/{sdk,dashboard}, which the gateway serves (services/gateway/web.py).
# Only the gateway target copies from this stage, so BuildKit builds it for that target alone.
WORKDIR /src/services/gateway
COPY services/gateway/sdk/package.json services/gateway/sdk/package-lock.json ./sdk/
COPY services/gateway/dashboard/package.json services/gateway/dashboard/package-lock.json ./dashboard/
RUN npm ci --prefix sdk --no-audit --no-fund \
    && npm ci --prefix dashboard --no-audit --no-fund
COPY services/gateway/sdk ./sdk
COPY services/gateway/dashboard ./dashboard
COPY --from=openapi /build/openapi.json ./dashboard/openapi.json
RUN npm run build --prefix sdk \
    && npm run build --prefix dashboard

FROM python:3.11.14-slim-trixie AS base
RUN groupadd --system --gid 10001 tme \
    && useradd --system --uid 10001 --gid tme --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tme
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TME_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
# Every image carries the whole package: the chart runs migrations, schema waits and `helm test`
# from one of them (utilityImage).
COPY services ./services
# Byte-code compiled at build time: the root filesystem is read-only at run time.
RUN python -m compileall -q /app/services

# The service targets: /app stays owned by root (read-only at run time), the process runs as 10001.
FROM base AS gateway
COPY --from=web /src/services/gateway/static ./services/gateway/static
ENV TME_PORT=8000
USER 10001:10001
EXPOSE 8000
CMD ["python", "-m", "services.gateway"]

FROM base AS users
ENV TME_PORT=8001
USER 10001:10001
EXPOSE 8001
CMD ["python", "-m", "services.users"]

FROM base AS tracking
ENV TME_PORT=8002
USER 10001:10001
EXPOSE 8002
CMD ["python", "-m", "services.tracking"]

FROM base AS subscriber
ENV TME_PORT=8003
USER 10001:10001
EXPOSE 8003
CMD ["python", "-m", "services.subscriber"]

# Tilt's targets: a service's image with /app owned by the app user, since live update syncs
# services/ into /app and restarts the process. Root only for the chown; port, user and command
# are the service target's.
FROM gateway AS gateway-dev
USER 0:0
RUN chown -R 10001:10001 /app
USER 10001:10001

FROM users AS users-dev
USER 0:0
RUN chown -R 10001:10001 /app
USER 10001:10001

FROM tracking AS tracking-dev
USER 0:0
RUN chown -R 10001:10001 /app
USER 10001:10001

FROM subscriber AS subscriber-dev
USER 0:0
RUN chown -R 10001:10001 /app
USER 10001:10001

# The default (last) stage: no image, only the message. Straight on the Python image, so that it
# fails at once instead of after installing the dependencies.
FROM python:3.11.14-slim-trixie AS no-default-target
RUN echo "choose an image: docker build --target gateway|users|tracking|subscriber ." >&2 \
    && exit 1
