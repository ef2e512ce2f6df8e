"""seedance: generate videos with ByteDance's Seedance models through the EvoLink API.

The library face. ``Client`` (which needs httpx) and ``Session`` (the history, downloads) are
imported on first use, so that ``import seedance_cli`` and ``seedance --version`` stay light; typer
and rich are never imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    APIError,
    AuthenticationError,
    BadResponse,
    ConfigError,
    ConnectionFailed,
    ExitCode,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknown,
    OverBudget,
    PermissionDeniedError,
    RateLimitError,
    RedirectRefused,
    ResponseTimeout,
    SeedanceError,
    ServerError,
    ServiceError,
    TaskFailed,
    UsageError,
    ValidationError,
    WaitTimeout,
)
from .models import Credits, GenerationRequest, Task, TaskError, TaskStatus
from .retry import RetryPolicy

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .client import Client, Timeouts
    from .env import Environment
    from .session import Destination, Session

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadResponse",
    "Client",
    "ConfigError",
    "ConnectionFailed",
    "Credits",
    "Destination",
    "Environment",
    "ExitCode",
    "GenerationRequest",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "NotFoundError",
    "OutcomeUnknown",
    "OverBudget",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectRefused",
    "ResponseTimeout",
    "RetryPolicy",
    "SeedanceError",
    "ServerError",
    "ServiceError",
    "Session",
    "Task",
    "TaskError",
    "TaskFailed",
    "TaskStatus",
    "Timeouts",
    "UsageError",
    "ValidationError",
    "WaitTimeout",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in ("Client", "Timeouts"):
        from . import client

        return getattr(client, name)
    if name in ("Session", "Destination"):  # the history (sqlite3) and downloads: on first use
        from . import session

        return getattr(session, name)
    if name == "Environment":
        from . import env

        return env.Environment
    raise AttributeError(f"module 'seedance_cli' has no attribute {name!r}")
