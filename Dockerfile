# syntax=docker/dockerfile:1
# Stage 1: the client's vendored npm packages (socket.io-client, hls.js).
FROM node:20-bookworm-slim AS client
WORKDIR /src/client
COPY client/package.json client/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Stage 2: a wheel of halqa. setup.py copies the client's pages and modules,
# socket.io-client's ES build and the demo event into it (server/bundled/),
# so the installed package serves the site from any working directory.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY server/ server/
COPY signaling/ signaling/
COPY broadcast/ broadcast/
COPY config/demo-event.toml config/
COPY client/ client/
COPY --from=client /src/client/node_modules/ client/node_modules/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 3: the runtime: the wheel and its dependencies; no sources, no node.
# aiortc and av ship manylinux wheels; no compiler needed.
FROM python:3.11-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HALQA_HOST=0.0.0.0 HALQA_DATA_DIR=/data HALQA_LOG_FORMAT=json
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir /wheels/*.whl
WORKDIR /app
# The commented settings file, where `halqa` looks by default (config/halqa.toml).
COPY config/halqa.toml config/
# The broadcast's captions: a font with Arabic, and FriBiDi for Pillow's raqm.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core libfribidi0 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home /data halqa && mkdir -p /data && chown halqa /data
USER halqa
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz').status != 200)"
CMD ["halqa", "serve"]
