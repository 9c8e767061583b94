"""gunicorn settings (entrypoint.sh, `make run`, bench, e2e): bind, workers, graceful shutdown, logs, metrics.

Environment: GUNICORN_BIND (default app.host:app.port, i.e. HOST/PORT), WEB_CONCURRENCY (workers),
GUNICORN_THREADS, GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT, GUNICORN_KEEPALIVE, ACCESS_LOG,
FORWARDED_ALLOW_IPS, PROMETHEUS_MULTIPROC_DIR (a private temp folder when unset).
"""

import os
import shutil
import signal
import tempfile

import settings

_static = settings.load_static()
bind = os.environ.get("GUNICORN_BIND") or f"{_static['app.host']}:{_static['app.port']}"
# In-memory rate limits (the embedded default) live in one process: several workers would each count
# on their own and let N times the limit through, so that mode runs one worker with more threads.
# With shared storage (Redis, as docker-compose deploys) workers scale out.
_shared_limits = not _static["ratelimit.storage_uri"].startswith("memory://")
workers = int(os.environ.get("WEB_CONCURRENCY", "2")) if _shared_limits else 1
threads = int(os.environ.get("GUNICORN_THREADS", "4" if _shared_limits else "8"))
if not _shared_limits and int(os.environ.get("WEB_CONCURRENCY", "1")) > 1:
    print("gunicorn.conf: rate limits are in memory (RATELIMIT_STORAGE_URI=memory://): one worker, "
          f"{threads} threads, so every limit is counted once; set a Redis URI to run several workers")
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# SIGTERM: stop accepting, let in-flight requests finish for up to this long, then stop the workers.
# Keep it below the container's stop grace period (docker-compose.yml: stop_grace_period 30s).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = "-" if os.environ.get("ACCESS_LOG", "true").lower() != "false" else None
errorlog = "-"
# gunicorn honours X-Forwarded-Proto only from these peers; the app's ProxyFix (TRUSTED_PROXIES) does the rest.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
limit_request_line = 8190
# Request bodies are limited by the app (MAX_CONTENT_LENGTH) and by nginx's client_max_body_size.
if _static["log.json"]:
    from logs import GunicornJsonLogger

    logger_class = GunicornJsonLogger

# Metrics of every worker go to one folder so /metrics, answered by any worker, sums them all.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Remembered in the environment so a config reload (SIGHUP) keeps the same folder.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="concierge-metrics-")
    os.environ["CONCIERGE_OWN_METRICS_DIR"] = "1"
metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    """Start from an empty metrics folder: files of a previous run would be summed in."""
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def post_worker_init(worker):
    """Every worker joins the scheduler leader election; exactly one runs the jobs."""
    from jobs import start_scheduler, stop_scheduler

    worker.scheduler_thread = start_scheduler(worker.wsgi)
    graceful_exit = worker.handle_exit

    def handle_exit(sig, frame):
        # Leave the election as soon as SIGTERM arrives, so no standby worker of this (stopping) master
        # grabs leadership while in-flight requests finish; another deployment's worker takes over.
        stop_scheduler()
        graceful_exit(sig, frame)

    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server, worker):
    """Stop the scheduler and wait (briefly) until leadership is released, so a standby takes over at once."""
    from jobs import stop_scheduler

    stop_scheduler()
    thread = getattr(worker, "scheduler_thread", None)
    if thread is not None:
        thread.join(timeout=5)


def child_exit(server, worker):
    """A dead worker's live gauges leave /metrics (its counters stay summed in)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("CONCIERGE_OWN_METRICS_DIR"):
        shutil.rmtree(metrics_dir, ignore_errors=True)
