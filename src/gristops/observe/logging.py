"""structlog set-up: one JSON line per event (time, level, logger, event, fields).

Lines go to stderr, and with a `LogFile` also to data_dir/logs/<process>.log
(always JSON there, whatever stderr's format, so `gristops logs` and the Loki
shipper can read every process the same way).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

import orjson
import structlog

from gristops.config import Config
from gristops.observe.logfiles import LogFile, SharedRotatingFileHandler, log_file

_SECRET_KEYS = frozenset(
    {"password", "token", "access_token", "refresh_token", "authorization", "api_key"}
)


def _mask_secrets(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Last line of defence: a secret passed by mistake is masked, never written."""
    for key in event.keys() & _SECRET_KEYS:
        event[key] = "***"
    return event


def _orjson(event: object, **_: object) -> str:
    return orjson.dumps(event, default=str).decode()


def _json_renderer() -> structlog.types.Processor:
    # orjson: the access line is written on every request, and the stdlib json is the slow part.
    return structlog.processors.JSONRenderer(serializer=_orjson)


def configure_logging(
    level: str = "info", json_lines: bool | None = True, file: LogFile | None = None
) -> None:
    """Route structlog and stdlib logging (uvicorn's too) to stderr, and to `file` if given.

    `json_lines` None: readable lines when stderr is a terminal (a person runs it),
    JSON otherwise (systemd's journal, a log shipper, a pipe).
    """
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    renderer: structlog.types.Processor = (
        _json_renderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        _mask_secrets,
    ]
    structlog.configure(
        # Below the level, an event stops here: none of the processors run for nothing.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter(shared, renderer))
    handlers: list[logging.Handler] = [handler]
    # The access line goes to the log file when there is one, else to stderr: one copy, as
    # nginx keeps its access log apart (a journal taking a line per request costs CPU too).
    writers: list[Callable[[bytes], None]] = [_stream_writer(handler)]
    if file is not None:
        file_handler = SharedRotatingFileHandler(file)
        file_handler.setFormatter(_formatter(shared, _json_renderer()))
        handlers.append(file_handler)
        writers = [file_handler.write_line]
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    if root.level > logging.INFO:
        ACCESS.direct(handlers, [])  # below the level: no access line, as for any info event
    else:  # console lines: structlog renders them
        ACCESS.direct(handlers, writers if json_lines else None)
    # uvicorn's own access log would duplicate ours, which has the request id.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request at info: the Loki shipper's pushes would feed its own log.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class _SharedJSONFormatter(structlog.stdlib.ProcessorFormatter):
    """The JSON line of a record, rendered once however many handlers write it: stderr and
    the log file would otherwise each copy and render every access line."""

    def format(self, record: logging.LogRecord) -> str:
        line: str | None = getattr(record, "gristops_json_line", None)
        if line is None:
            line = super().format(record)
            record.gristops_json_line = line
        return line


def _formatter(
    shared: list[structlog.types.Processor], renderer: structlog.types.Processor
) -> logging.Formatter:
    json_lines = isinstance(renderer, structlog.processors.JSONRenderer)
    formatter = _SharedJSONFormatter if json_lines else structlog.stdlib.ProcessorFormatter
    return formatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def _stream_writer(handler: logging.StreamHandler[TextIO]) -> Callable[[bytes], None]:
    def write(line: bytes) -> None:
        handler.acquire()
        try:
            handler.stream.write(line.decode())
            handler.stream.flush()
        finally:
            handler.release()

    return write


class AccessLog:
    """The one line per HTTP request (RequestContextMiddleware's).

    Written on every request, so once `configure_logging` has set up JSON
    lines it is rendered here (one orjson call) and appended to the log file
    (to stderr when there is none) directly: structlog's processor chain, a stdlib LogRecord and the handlers'
    formatting cost more than a cached read's answer. The line is the one
    structlog would write (event, level, logger, time); the caller passes the
    request id among the fields, whose keys are fixed and hold no secrets.
    Console lines, an unconfigured process, or a logging set-up changed since
    (a test capturing structlog) take structlog's path.
    """

    def __init__(self) -> None:
        self._handlers: list[logging.Handler] = []
        self._processors: list[object] = []
        self._writers: list[Callable[[bytes], None]] | None = None

    def direct(
        self, handlers: list[logging.Handler], writers: list[Callable[[bytes], None]] | None
    ) -> None:
        """Write straight to `writers` while `handlers` and structlog's set-up stay as now;
        None: always through structlog."""
        self._handlers = list(handlers)
        self._processors = list(structlog.get_config()["processors"])  # capture_logs edits it
        self._writers = writers

    def write(self, fields: dict[str, object]) -> None:
        writers = self._writers
        if (
            writers is None
            or logging.root.handlers != self._handlers
            or structlog.get_config()["processors"] != self._processors
        ):
            # A fresh proxy: a cached one keeps the processors of the set-up it first saw.
            structlog.get_logger(ACCESS_LOGGER).info("request", **fields)
            return
        if not writers:
            return
        event: dict[str, object] = {**fields, "event": "request"}
        event["level"] = "info"
        event["logger"] = ACCESS_LOGGER
        event["time"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        line = orjson.dumps(event, default=str, option=orjson.OPT_APPEND_NEWLINE)
        for write in writers:
            write(line)


ACCESS_LOGGER = "gristops.access"
ACCESS = AccessLog()


def configure_process_logging(config: Config, process: str) -> None:
    """Logging for one gristops process (gateway, agent...): stderr plus its log file."""
    configure_logging(config.log.level, config.log.json_lines, log_file(config, process))
