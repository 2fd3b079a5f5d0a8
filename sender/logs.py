"""Log formatters that carry the context Sender attaches to records (`extra=`): the
broadcast, method, batch… So every delivery line can be found by broadcast id.

    SENDER_LOG_FORMAT=json   one JSON object per line (for a log collector)
    SENDER_LOG_FORMAT=plain  the default: a readable line ending in key=value pairs
"""

import json
import logging

# Attributes every LogRecord has; anything else came from `extra=` and is context.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def context(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = context(record)
        return line + "".join(f" {k}={v}" for k, v in extra.items()) if extra else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
            "logger": record.name, "message": record.getMessage(), **context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
