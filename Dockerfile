# The Concierge api image: gunicorn behind nginx (docker-compose.yml). Everything is installed at build
# time; the container needs no network at run time except to its database, Redis and mail server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=app \
    CONCIERGE_ENV=production \
    CONCIERGE_INSTANCE=/app/instance \
    GUNICORN_BIND=0.0.0.0:5000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/concierge-metrics

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes (all wheels, no compiler).
COPY requirements.txt .
RUN pip install --no-compile -r requirements.txt

# A non-root user owning only what it writes: instance/ (workspace files, LFS objects, the scheduler's lock
# file), 0700 like the app makes it (the compose volumes mounted there start as copies of these folders).
RUN groupadd --system --gid 10001 concierge \
    && useradd --system --uid 10001 --gid concierge --home-dir /app --shell /usr/sbin/nologin concierge \
    && mkdir -p -m 0700 /app/instance /app/instance/workspace /app/instance/lfs \
    && chown -R concierge:concierge /app/instance

COPY --chown=root:root . .
RUN chmod 0755 entrypoint.sh

USER concierge
EXPOSE 5000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/readyz', timeout=4).status != 200)"]
ENTRYPOINT ["./entrypoint.sh"]
