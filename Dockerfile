# calcinosis-cds: the CDS Hooks service as a small, non-root container.
#
#   docker build -t calcinosis-cds:local .
#   docker run --rm -p 8080:8080 -v cds-data:/data calcinosis-cds:local
#
# Base image: python 3.11 slim, pinned by tag AND by the digest of its multi-arch index (the digest is what
# Docker pulls; the tag is for people). The digest was not pulled on our machines (no Docker engine there);
# it is the python:3.11.15-slim index digest that several public projects pin. To move to a newer base,
# run `docker buildx imagetools inspect python:3.11-slim` and replace tag and digest in BOTH stages.

# ---- build: turn the project into a wheel (setuptools pinned, no build isolation: no unpinned download)
FROM python:3.11.15-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m pip install "setuptools==84.2.1"
WORKDIR /src
# Only what the wheel is made of: pyproject (metadata, package data), the README (long description) and the
# three packages. Their data files (value sets, card data, migrations, demo patients) are package data.
COPY pyproject.toml README.md ./
COPY service ./service
COPY terminology ./terminology
COPY cards ./cards
RUN python -m pip wheel --no-build-isolation --no-deps --wheel-dir /wheels .

# ---- runtime
FROM python:3.11.15-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff AS runtime
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CDS_DATABASE_URL=sqlite:////data/calcinosis-cds.db
# The service runs as uid 10001 (not root, not a uid an image usually has); /data holds the SQLite default
# and is owned by it, so a named volume mounted there starts with the right owner.
RUN groupadd --system --gid 10001 cds \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin cds \
    && mkdir -p /app /data \
    && chown 10001:10001 /data
# Installing the wheel installs its dependencies within the ranges of pyproject.toml (binary wheels exist for
# all of them on linux x86_64 and aarch64, so no compiler is needed); the wheel itself is then removed.
COPY --from=build /wheels /tmp/wheels
RUN python -m pip install /tmp/wheels/*.whl && rm -rf /tmp/wheels
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# No curl in slim images: the standard library probes /healthz (urlopen raises on refusal or an HTTP error).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["calcinosis-cds", "serve", "--host", "0.0.0.0", "--port", "8080"]
