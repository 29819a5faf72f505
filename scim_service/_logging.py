"""Structured logging of the service: one JSON (or key=value) line per record.

Only entry points (CLI, demo) call `configure_logging`; modules log through
`logging.getLogger(__name__)` and pass structured fields as `extra={"fields": ...}`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "scim_service.access"


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as JSON with its structured fields merged in."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class KeyValueFormatter(logging.Formatter):
    """Render a record as `ts level logger msg key=value ...` for humans."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one text line (plus a traceback if any)."""
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        parts = [ts, record.levelname, record.name, record.getMessage()]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            parts.extend(f"{key}={_kv(value)}" for key, value in fields.items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _kv(value: object) -> str:
    text = "-" if value is None else str(value)
    # Quote anything that could break the line or fake a field (log injection).
    plain = text.isprintable() and " " not in text and '"' not in text
    return text if plain else json.dumps(text)


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Send every record to stderr in the chosen format (json or text)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = KeyValueFormatter() if log_format == "text" else JsonFormatter()
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)

    # httpx/httpcore log every request at INFO, with URLs; keep them quiet.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
