# syntax=docker/dockerfile:1
# Stage 1: the client's vendored npm packages (socket.io-client).
FROM node:20-bookworm-slim AS client
WORKDIR /src/client
COPY client/package.json client/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY client/ ./

# Stage 2: the Python app. aiortc and av ship manylinux wheels; no compiler needed.
FROM python:3.11-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HALQA_HOST=0.0.0.0 HALQA_DATA_DIR=/data HALQA_LOG_FORMAT=json
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server/ server/
COPY signaling/ signaling/
RUN pip install --no-cache-dir .
COPY config/ config/
COPY --from=client /src/client/ client/
RUN useradd --system --home /data halqa && mkdir -p /data && chown halqa /data
USER halqa
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz').status != 200)"
CMD ["halqa", "serve"]
