"""The one exception tree of seedance and the exit codes it maps onto.

Every error the library raises is a ``SeedanceError``; each class carries the exit code the CLI uses for
it, so the mapping lives here and only here::

    SeedanceError                       exit 1 (a bug, unless a subclass says otherwise)
    ├── UsageError                      2   refused locally, before any request
    │   ├── ValidationError             2   a request field breaks a rule of the API (names the field)
    │   ├── ManifestError               2   batch: invalid lines (each with its number)
    │   ├── TargetExists                2   an output file exists (no --force)
    │   ├── UnsafeFile                  2   a link or odd file where seedance would write
    │   └── OutputUnusable              2   an output path that cannot be used (not a folder, not writable)
    ├── ConfigError                     3   no API key, unreadable or invalid config, unsafe base URL
    │   └── HistoryUnavailable          3   the task history cannot record a create: it is not sent
    ├── APIError                        -   the API answered and refused (HTTP status, code, message)
    │   ├── AuthenticationError         4   401
    │   ├── PermissionDeniedError       4   403
    │   ├── InsufficientCreditsError    5   402
    │   ├── InvalidRequestError         6   400, 413, 422 and other 4xx
    │   │   ├── NotFoundError           6   404
    │   │   └── ModelUnavailable        6   a create refused because the API no longer serves
    │   │                                   its model (410, or a 400/403/404 that says so)
    │   ├── RateLimitError              7   429 (after retries)
    │   └── ServerError                 7   5xx (after retries)
    ├── ServiceError                    7   the network or the service failed us: no usable answer
    │   ├── ConnectionFailed            7   could not connect (nothing was sent)
    │   ├── ResponseTimeout             7   connected, but the answer did not come in time
    │   ├── BadResponse                 7   an answer that is not what the API sends (bad JSON, cut short)
    │   │   ├── NotAVideo               7   a result body that is no MP4 (an error page, empty)
    │   │   └── IncompleteFile          7   a result whose MP4 is cut short
    │   ├── RedirectRefused             7   a redirect to another origin: not followed
    │   ├── UnreachableAtDeadline       7   a wait's deadline passed while every poll failed: state unknown
    │   ├── ResultGone                  7   the result host refused the URL (403, 404, 410)
    │   ├── ResultExpired               7   gone even at a fresh URL: results live 24 hours
    │   └── LocalWriteFailed            7   saving failed on this machine (disk full, I/O error)
    │       └── DownloadBusy            7   another seedance is downloading to the same file
    ├── TaskFailed                      8   the task ended failed or cancelled (carries the task)
    │   └── NoResult                    8   completed, without a usable result
    ├── WaitTimeout                     9   the deadline passed while the task was still running
    │   └── WaitTimeoutAll              9   the same for several tasks, named together
    ├── NotFinished                     9   a task asked to be downloaded is still running
    ├── OutcomeUnknown                  10  a create may have reached the server; it was not resent
    ├── OverBudget                      11  the estimated cost is above the budget (--max-credits):
    │                                       nothing above it was sent
    ├── Interrupted                     130 Ctrl-C (carries what to run to resume); 129 and 143 when
    │                                       SIGHUP or SIGTERM stopped the CLI (``cli.app.run``)
    └── AlreadyShown                    *   an error already printed where it happened; its code

Four exceptions stand outside the tree on purpose, so that no ``except SeedanceError`` (a per-task
handler, say) ever takes them for one task's failure::

    OutputClosed (Exception)            0   stdout's reader went away (``| head -1``): stop quietly
    OutputFailed (Exception)            7   stdout could not be written (``>/dev/full``)
    ImageError (Exception)              -   bytes that are no readable image (becomes a ValidationError)
    Signalled (KeyboardInterrupt)       129/143 SIGHUP or SIGTERM, taking Ctrl-C's path

Errors are immutable once made: what a caller wants to add (the task an error is about, a hint on
how to resume) makes a new error with ``replace``, so an error shown in two places never changes
under one of them.

"The API refused" (``APIError``) means the service answered and nothing was done. "The task failed"
(``TaskFailed``) means the task was created, paid for and ended badly. "The network failed"
(``ServiceError``) means there was no usable answer at all. ``OutcomeUnknown`` is the one that costs
money: a create was sent and we cannot tell whether the server made a task; it carries the
idempotency key so the caller can find out before trying again.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from pathlib import Path

    from .models import Task

#: Longest server message kept in an error; an HTML error page can be megabytes.
MAX_MESSAGE_CHARS = 500


class ExitCode(enum.IntEnum):
    """The exit codes of CLI.md, which users' scripts depend on."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    CREDITS = 5
    REFUSED = 6
    UNAVAILABLE = 7
    TASK_FAILED = 8
    TIMEOUT = 9
    OUTCOME_UNKNOWN = 10
    OVER_BUDGET = 11
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "unexpected internal error (a bug)",
    ExitCode.USAGE: "usage: bad flag or input, refused locally before any request",
    ExitCode.CONFIG: "configuration: no API key, unreadable or invalid config file",
    ExitCode.AUTH: "authentication or permission refused by the API (401, 403)",
    ExitCode.CREDITS: "insufficient credits or quota (402)",
    ExitCode.REFUSED: "request refused by the API (other 4xx: invalid request, task not found)",
    ExitCode.UNAVAILABLE: "service unavailable: network failure, timeouts, 429 or 5xx after retries, "
    "failed download",
    ExitCode.TASK_FAILED: "the task failed or was cancelled",
    ExitCode.TIMEOUT: "wait deadline passed; the task is still running",
    ExitCode.OUTCOME_UNKNOWN: "outcome unknown: a create may have reached the server; it was not resent",
    ExitCode.OVER_BUDGET: "over budget: the estimated cost is above --max-credits; nothing above the "
    "budget was created",
    ExitCode.HANGUP: "interrupted by SIGHUP (the terminal closed), as by Ctrl-C",
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C",
    ExitCode.TERMINATED: "interrupted by SIGTERM (a CI cancel, timeout, kill), as by Ctrl-C",
}


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Shorten ``text`` to ``limit`` characters, marking the cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Sealed(type):
    """Seals each error once its ``__init__`` (and every ``super().__init__``) has run."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        error = super().__call__(*args, **kwargs)
        error.__dict__["_sealed"] = True
        return error


def _rebuild(cls: type[SeedanceError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An error of ``cls`` with ``state`` as its attributes, without running its ``__init__``
    (whose parameters differ from class to class): ``copy``, ``pickle`` and ``replace`` use it."""
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class SeedanceError(Exception, metaclass=_Sealed):
    """Base of every error seedance raises. ``hint`` says what the user can do about it.

    Immutable once made (``AttributeError`` otherwise): ``replace`` makes a changed copy. Python's
    own bookkeeping (``__traceback__``, ``__cause__``, ``__notes__``) is untouched.
    """

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL
    #: A stable, machine-readable name for ``--json`` output.
    code: str = "internal_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_sealed") and not (name.startswith("__") and name.endswith("__")):
            raise AttributeError(
                f"{type(self).__name__} is immutable once made; use .replace({name}=...)"
            )
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if self.__dict__.get("_sealed") and not (name.startswith("__") and name.endswith("__")):
            raise AttributeError(f"{type(self).__name__} is immutable once made")
        super().__delattr__(name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def replace(self, **changes: Any) -> Self:
        """A copy of this error with ``changes`` (``message=``, ``hint=``...) applied; the same
        class, exit code and every other attribute. Unknown names are refused."""
        unknown = [name for name in changes if name not in self.__dict__]
        if unknown:
            raise TypeError(f"{type(self).__name__} has no attribute {unknown[0]!r}")
        args = (changes["message"],) if "message" in changes else self.args
        error: Self = _rebuild(type(self), args, {**self.__dict__, **changes})
        return error

    def about(self, subject: str) -> Self:
        """This error with ``subject`` (a task id, ``line 3``) in front of its message, for output
        about several things at once; unchanged when the message names it already."""
        if subject in self.message:
            return self
        return self.replace(message=f"{subject}: {self.message}")


class UsageError(SeedanceError):
    """Input refused locally; nothing was sent."""

    exit_code = ExitCode.USAGE
    code = "usage_error"


class ValidationError(UsageError):
    """A request field breaks a rule of the API. ``field`` is the API field name (``duration``)."""

    code = "invalid_input"

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{field}: {message}", hint=hint)
        self.field = field
        self.reason = message


class ConfigError(SeedanceError):
    """No API key, an unreadable or invalid config file, or an unsafe base URL."""

    exit_code = ExitCode.CONFIG
    code = "config_error"


class HistoryUnavailable(ConfigError):
    """The task history cannot record a create (locked, full, unwritable): the create is not sent,
    because a create that is not recorded could be paid for twice or lost."""

    code = "history_unavailable"


class APIError(SeedanceError):
    """The API answered with an error: it refused, and did nothing.

    ``status`` is the HTTP status and drives control flow. ``api_code`` is the envelope's
    ``error.code`` as sent: a string (``"invalid_request"``) or, before March 2026, an integer equal
    to the status. ``api_type`` and ``param`` are the envelope's ``type`` and ``param``.
    """

    exit_code = ExitCode.REFUSED
    code = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        api_code: str | int | None = None,
        api_type: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(clip(message), hint=hint)
        self.status = status
        self.api_code = api_code
        self.api_type = api_type
        self.param = param
        self.retry_after = retry_after

    @property
    def code_name(self) -> str:
        """The error code as a string: the API's own when it sent a string, else this class's."""
        return self.api_code if isinstance(self.api_code, str) and self.api_code else self.code


class AuthenticationError(APIError):
    exit_code = ExitCode.AUTH
    code = "unauthorized"


class PermissionDeniedError(APIError):
    exit_code = ExitCode.AUTH
    code = "permission_denied"


class InsufficientCreditsError(APIError):
    exit_code = ExitCode.CREDITS
    code = "insufficient_quota"


class InvalidRequestError(APIError):
    exit_code = ExitCode.REFUSED
    code = "invalid_request"


class NotFoundError(InvalidRequestError):
    code = "not_found"


#: What to do about a model the API does not serve: where the others are listed, how to pick one.
MODEL_HINT = (
    "`seedance models` lists the models this version knows (`--available`: those this key may "
    "use); choose one with --model, or set the profile's `model` key"
)


class ModelUnavailable(InvalidRequestError):
    """A create refused because the API does not serve its model (any more): retired by the
    upstream provider, withdrawn, or unknown to the API (``http_errors.model_refusal`` judges the
    answer). Nothing was created. ``model`` is the model asked for; ``status``, ``api_code``,
    ``api_type`` and ``param`` are the answer's, as for any ``APIError``.

    Exit 6 like any other refused request: the request itself (its model) is what the API will
    not take, and a later try with the same model will be refused again. ``known`` says whether
    this version's catalogue knows the model (it then says "no longer serves").
    """

    code = "model_unavailable"

    def __init__(
        self,
        model: str,
        detail: str,
        *,
        status: int,
        known: bool = True,
        api_code: str | int | None = None,
        api_type: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        serves = "no longer serves" if known else "does not serve"
        super().__init__(
            f"the API {serves} model {model}" + (f" ({clip(detail, 300)})" if detail else ""),
            status=status,
            api_code=api_code,
            api_type=api_type,
            param=param,
            retry_after=retry_after,
            hint=MODEL_HINT,
        )
        self.model = model
        self.known = known

    @property
    def code_name(self) -> str:
        """Always ``model_unavailable``: the API's own code (``gone``, ``model_retired``,
        ``not_found``...) varies with how it says so, and stays in ``api_code``."""
        return self.code


class RateLimitError(APIError):
    exit_code = ExitCode.UNAVAILABLE
    code = "rate_limit_exceeded"


class ServerError(APIError):
    exit_code = ExitCode.UNAVAILABLE
    code = "server_error"


def api_error_class(status: int) -> type[APIError]:
    """The ``APIError`` subclass for an HTTP error status."""
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 402:
        return InsufficientCreditsError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return InvalidRequestError


class ServiceError(SeedanceError):
    """No usable answer: the network failed, the service timed out or sent something unreadable."""

    exit_code = ExitCode.UNAVAILABLE
    code = "service_unavailable"


class ConnectionFailed(ServiceError):
    """Could not connect; nothing was sent."""

    code = "connection_failed"


class ResponseTimeout(ServiceError):
    code = "timeout"


class BadResponse(ServiceError):
    """An answer that is not what the API sends: unparseable JSON, a body cut short, a wrong shape."""

    code = "bad_response"


class RedirectRefused(ServiceError):
    """The server redirected to another origin; the key is never sent there, so it is not followed."""

    code = "redirect_refused"


class UnreachableAtDeadline(ServiceError):
    """A wait's deadline passed while the API could not be reached about the task: its state is
    unknown (it may well have finished), which is not "still running". ``cause`` is the last failure;
    ``task`` the last task seen, if any."""

    code = "unreachable"

    def __init__(
        self, task_id: str, outage: float, cause: SeedanceError, task: Task | None
    ) -> None:
        super().__init__(
            f"task {task_id}: no answer from the API for the last {outage:.0f}s of the wait "
            f"({cause.message}); its state is unknown"
        )
        self.task_id = task_id
        self.cause = cause
        self.task = task


class TaskFailed(SeedanceError):
    """The task ended ``failed`` or ``cancelled``. ``task`` is the final task as the API returned it."""

    exit_code = ExitCode.TASK_FAILED
    code = "task_failed"

    def __init__(self, task: Task, *, hint: str | None = None) -> None:
        err = task.error
        detail = (
            f"{err.code}: {err.message}" if err and err.message else (err.code if err else None)
        )
        message = f"task {task.id} {task.status}" + (
            f" ({detail})" if detail else " (no reason given)"
        )
        super().__init__(message, hint=hint)
        self.task = task


class WaitTimeout(SeedanceError):
    """The wait deadline passed; ``task`` (the last one seen, if any) is still running.
    ``message`` replaces the usual one (a batch line that never got a task says why)."""

    exit_code = ExitCode.TIMEOUT
    code = "wait_timeout"

    def __init__(
        self, task_id: str, timeout: float, task: Task | None = None, *, message: str | None = None
    ) -> None:
        super().__init__(message or f"task {task_id} still running after {timeout:g}s")
        self.task_id = task_id
        self.timeout = timeout
        self.task = task


class OutcomeUnknown(SeedanceError):
    """A create may have reached the server and it is unknown whether a task was made.

    It was deliberately not resent, because every create costs credits. ``idempotency_key`` is the
    key every attempt carried; ``cause`` says what went wrong after sending.
    """

    exit_code = ExitCode.OUTCOME_UNKNOWN
    code = "outcome_unknown"

    def __init__(self, idempotency_key: str, cause: str) -> None:
        super().__init__(
            f"the create may have reached the server ({cause}); it was not resent",
            hint=f"idempotency key {idempotency_key}: `seedance history --sync` names the tasks "
            "that could be it (or look in your EvoLink dashboard); record what you find with "
            f"`seedance history --settle {idempotency_key}=TASK_ID` (or `{idempotency_key}=none` "
            "if it made none)",
        )
        self.idempotency_key = idempotency_key
        self.cause = cause


class OverBudget(SeedanceError):
    """A create refused before anything was sent or uploaded because its estimated cost, counted at
    the top of its range, is above the budget (``--max-credits``, the profile's ``max-credits``),
    or because its price is unknown and unknown prices were not allowed. It cost nothing."""

    exit_code = ExitCode.OVER_BUDGET
    code = "over_budget"


class Interrupted(SeedanceError):
    """Ctrl-C. The message says what was under way; the hint, how to resume it."""

    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"


# -- the errors of one area each: files, downloads, batch, the CLI's reporting ------------------


class ManifestError(UsageError):
    """Some lines are invalid; ``problems`` lists ``(line number, message)``."""

    code = "invalid_manifest"

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        count = len(problems)
        super().__init__(
            f"{count} invalid line{'s' if count != 1 else ''} in the manifest; nothing was sent",
            hint="fix them and run again",
        )
        self.problems = list(problems)


class TargetExists(UsageError):
    code = "file_exists"

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} exists; not overwritten", hint="add --force to replace it")
        self.path = path


class UnsafeFile(UsageError):
    """A symbolic link, a folder or another odd file where seedance would write: never followed."""

    code = "unsafe_file"


class OutputUnusable(UsageError):
    """The output path cannot be used: a file where a folder is needed, not writable, bad name."""

    code = "output_unusable"


class ResultGone(ServiceError):
    """The result host refused the URL (403, 404, 410): expired, or signed for another time."""

    code = "result_gone"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(
            f"the result host answered HTTP {status}" + (f": {detail}" if detail else "")
        )
        self.status = status


class ResultExpired(ServiceError):
    """The result is gone from its host, even at a fresh URL: results live 24 hours."""

    code = "result_expired"


class NotAVideo(BadResponse):
    """The body is not an MP4: an error page, an API answer, or a file cut short."""

    code = "not_a_video"


class IncompleteFile(BadResponse):
    """The transfer ended as HTTP said it should, yet the MP4 inside is cut short."""

    code = "incomplete_file"


class LocalWriteFailed(ServiceError):
    """Writing the download failed on this machine (disk full, I/O error): a failed download."""

    code = "write_failed"


class DownloadBusy(LocalWriteFailed):
    """Another seedance (process or thread) is downloading to the same file right now."""

    code = "download_busy"


class NoResult(TaskFailed):
    """The task says ``completed`` but has no usable result (none, an empty list, not a URL).

    Nothing can be saved or shown: like a failed task, exit 8, never an empty line and exit 0.
    """

    code = "no_result"

    def __init__(self, task: Task, detail: str) -> None:
        SeedanceError.__init__(
            self,
            f"task {task.id} completed without a usable result ({detail})",
            hint="the API reported success but gave nothing to download; ask EvoLink support "
            "about this task",
        )
        self.task = task


class WaitTimeoutAll(WaitTimeout):
    """The deadline passed for one or more tasks; the message and hint name them all."""

    def __init__(self, task_ids: Sequence[str], timeout: float, hint: str) -> None:
        super().__init__(task_ids[0], timeout)
        self.message = f"still running after {timeout:g}s: {', '.join(task_ids)}"
        self.hint = hint
        self.task_ids = list(task_ids)
        self.args = (self.message,)


class NotFinished(SeedanceError):
    """A task asked to be downloaded is still running."""

    exit_code = ExitCode.TIMEOUT
    code = "not_finished"


class AlreadyShown(SeedanceError):
    """An error whose lines were printed where it happened; ``main`` only exits with its code."""

    def __init__(self, error: SeedanceError) -> None:
        super().__init__(error.message, hint=error.hint)
        self.error = error
        self.exit_code = error.exit_code  # type: ignore[misc]


class OutputClosed(Exception):
    """stdout was closed by its reader (``| head -1``): stop quietly. Not an ``OSError`` on purpose."""


class OutputFailed(Exception):
    """stdout could not be written (``>/dev/full``, a full disk, EIO): the data did not get out.
    Exit 7, like any other failed write on this machine, never exit 1. Like ``OutputClosed`` it is
    no ``SeedanceError``, so that no per-task handler takes it for that task's failure."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"cannot write to stdout: {exc.strerror or exc}")


class ImageError(Exception):
    """The bytes are not an image this module can read; the message says what they are."""


class Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C would be, so that every Ctrl-C path (ledger marks,
    ``.part`` files kept, resume hints) runs for them too; ``run()`` exits 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def describe(exc: BaseException) -> dict[str, Any]:
    """The ``{"code", "message", "hint"}`` object of ``--json`` error output."""
    if isinstance(exc, APIError):
        return {"code": exc.code_name, "message": exc.message, "hint": exc.hint}
    if isinstance(exc, SeedanceError):
        return {"code": exc.code, "message": exc.message, "hint": exc.hint}
    return {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}", "hint": None}
