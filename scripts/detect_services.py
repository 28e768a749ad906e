"""Print shell exports for the test run: DATABASE_URL and REDIS_URL.

Explicit values win; otherwise PostgreSQL and Redis on 127.0.0.1 are used when they answer;
otherwise SQLite without Redis. The choice is reported on stderr.
"""

import os
import shlex
import socket
import sys

PG_URL = "postgres://postgres@127.0.0.1:5432/humblytics"
REDIS_URL = "redis://127.0.0.1:6379/0"


def answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def main():
    database = os.environ.get("DATABASE_URL") or (PG_URL if answers("127.0.0.1", 5432) else "")
    redis = os.environ.get("REDIS_URL") or (REDIS_URL if answers("127.0.0.1", 6379) else "")
    print(f"export DATABASE_URL={shlex.quote(database)}" if database else "unset DATABASE_URL")
    print(f"export REDIS_URL={shlex.quote(redis)}" if redis else "unset REDIS_URL")
    db_label = database.split("@")[-1] if database else "SQLite (no PostgreSQL answered on 127.0.0.1:5432)"
    redis_label = redis or "none (no Redis answered on 127.0.0.1:6379): Celery eager, local-memory cache"
    sys.stderr.write(f"Tests use database: {db_label}\nTests use Redis: {redis_label}\n")


if __name__ == "__main__":
    main()
