# syntax=docker/dockerfile:1
# The Xuefen server image (docs/deployment.md): the package installed with pip into a virtual
# environment in a build stage, copied into a slim runtime that runs as an unprivileged user.
#
#   docker build -t xuefen .
#   docker build --build-arg EXTRAS=s3 -t xuefen .      media in S3-compatible storage (boto3)
#
# By default a container runs `xuefen migrate` then `xuefen serve --host 0.0.0.0` on port 8000
# (deploy/docker-entrypoint.sh); any other command is passed to xuefen: `docker run xuefen worker`.

# The base image; another Debian image with Python 3.11 (python3 and its venv module) works too.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Optional extras of the package, comma-separated (s3, …; see pyproject.toml).
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/xuefen
WORKDIR /src
# Only what the package is built from: pyproject.toml names README.md as its description.
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY schema ./schema
COPY mobile_sync ./mobile_sync
# A regular (not editable) install: the runtime stage gets the venv alone, not the sources.
RUN /opt/xuefen/bin/pip install ".${EXTRAS:+[$EXTRAS]}" \
    && /opt/xuefen/bin/xuefen --version

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="xuefen" \
      org.opencontainers.image.description="Xuefen (学分): GraphQL server for on-the-job training with credits"
# A TrueType font with Chinese glyphs, embedded in certificate PDFs (backend/services/certificates/pdf.py).
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
# A system user with a fixed id (volumes keep their owner across rebuilds) and no shell.
RUN groupadd --system --gid 10001 xuefen \
    && useradd --system --uid 10001 --gid xuefen --home-dir /var/lib/xuefen --shell /usr/sbin/nologin xuefen \
    && mkdir -p /var/lib/xuefen/data /var/lib/xuefen/media \
    && chown -R xuefen:xuefen /var/lib/xuefen
COPY --from=build /opt/xuefen /opt/xuefen
COPY deploy/docker-entrypoint.sh /usr/local/bin/xuefen-entrypoint
ENV PATH=/opt/xuefen/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XUEFEN_DATA_DIR=/var/lib/xuefen/data \
    XUEFEN_MEDIA_DIR=/var/lib/xuefen/media \
    XUEFEN_CERTIFICATE_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
USER xuefen:xuefen
WORKDIR /var/lib/xuefen
VOLUME ["/var/lib/xuefen/media"]
EXPOSE 8000
# /healthz answers while the process lives (no curl in a slim image: Python's urllib). A worker
# container listens on no port: compose.yaml turns this check off for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('XUEFEN_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["xuefen-entrypoint"]
CMD ["serve"]
