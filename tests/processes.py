"""Environment for the real processes tests start (workers, servers): the test database,
whichever backend the run uses."""

import os
from urllib.parse import quote

from django.db import connection


def database_url() -> str:
    """The running test database as a DATABASE_URL, for a subprocess to open the same data."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    where = f"{db['HOST'] or ''}" + (f":{db['PORT']}" if db["PORT"] else "")
    return f"postgres://{auth + '@' if auth else ''}{where}/{quote(db['NAME'])}?conn_max_age=0"


def process_env(**extra: str) -> dict[str, str]:
    """os.environ with the test database, plus `extra`."""
    return {**os.environ, "DATABASE_URL": database_url(), **extra}
