"""seedance: generate videos with Seedance 1.5 Pro through the EvoLink API.

The library face. ``Client`` (which needs httpx) is imported on first use, so that ``import
seedance_cli`` and ``seedance --version`` stay light; typer and rich are never imported here.
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

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadResponse",
    "Client",
    "ConfigError",
    "ConnectionFailed",
    "Credits",
    "ExitCode",
    "GenerationRequest",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "NotFoundError",
    "OutcomeUnknown",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectRefused",
    "ResponseTimeout",
    "RetryPolicy",
    "SeedanceError",
    "ServerError",
    "ServiceError",
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
    raise AttributeError(f"module 'seedance_cli' has no attribute {name!r}")
