"""gunicorn settings: bind from the settings resolver (app.host/app.port, PORT), scheduler per worker."""

import os

import settings

_static = settings.load_static()
bind = os.environ.get("GUNICORN_BIND") or f"{_static['app.host']}:{_static['app.port']}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-" if os.environ.get("ACCESS_LOG", "true").lower() != "false" else None
errorlog = "-"
# the body limit nginx enforces must match the app's (deploy/nginx.conf client_max_body_size)
limit_request_line = 8190


def post_worker_init(worker):
    """Every worker joins the scheduler leader election; exactly one runs the jobs."""
    from jobs import start_scheduler

    start_scheduler(worker.wsgi)


def worker_exit(server, worker):
    """Stop the scheduler (and release leadership) on graceful shutdown."""
    from jobs import stop_scheduler

    stop_scheduler()
