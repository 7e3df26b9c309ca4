"""One log stream: stdlib ``logging`` records are routed into loguru."""

from __future__ import annotations

import logging

from loguru import logger


class InterceptHandler(logging.Handler):
    """Hands every stdlib log record to loguru, keeping its level and origin."""

    def emit(self, record: logging.LogRecord) -> None:
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info, depth=6).bind(logger_name=record.name).log(level, record.getMessage())


def route_stdlib_logging() -> None:
    """Install the handler on the root logger once (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(h, InterceptHandler) for h in root.handlers):
        root.addHandler(InterceptHandler())


def configure_logging(level: str = "WARNING") -> None:
    """One stderr sink at ``level`` for command-line use (loguru's default sink
    shows DEBUG). Also routes stdlib logging into loguru."""
    import sys

    logger.remove()
    logger.add(sys.stderr, level=level)
    route_stdlib_logging()
