"""The request rules of API.md, enforced locally, and the task/credits shapes read tolerantly."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_cli import BadResponse, GenerationRequest, Task, TaskStatus, ValidationError
from seedance_cli.errors import ExitCode
from seedance_cli.models import Credits, check_task_id, is_internal_host, task_ids


def refused(field: str, **kwargs: Any) -> ValidationError:
    kwargs.setdefault("prompt", "A cat playing piano")
    with pytest.raises(ValidationError) as info:
        GenerationRequest(**kwargs)
    assert info.value.field == field
    assert info.value.exit_code == ExitCode.USAGE
    return info.value


def test_minimal_request_body_has_only_model_and_prompt() -> None:
    assert GenerationRequest("A cat playing piano").to_body() == {
        "model": "seedance-1.5-pro",
        "prompt": "A cat playing piano",
    }


def test_every_field_maps_onto_its_body_key() -> None:
    request = GenerationRequest(
        "Two frames",
        image_urls=["https://example.com/a.png", "https://example.com/b.jpg"],
        duration=12,
        quality="1080p",
        aspect_ratio="adaptive",
        generate_audio=False,
        callback_url="https://hooks.example.com/done",
    )
    assert request.to_body() == {
        "model": "seedance-1.5-pro",
        "prompt": "Two frames",
        "image_urls": ["https://example.com/a.png", "https://example.com/b.jpg"],
        "duration": 12,
        "quality": "1080p",
        "aspect_ratio": "adaptive",
        "generate_audio": False,
        "callback_url": "https://hooks.example.com/done",
    }


@pytest.mark.parametrize("prompt", ["", "   ", "\n"])
def test_empty_prompt_is_refused(prompt: str) -> None:
    refused("prompt", prompt=prompt)


def test_prompt_limit_is_2000_characters_not_bytes() -> None:
    GenerationRequest("é" * 2000)  # 4000 bytes in UTF-8, 2000 characters: allowed
    error = refused("prompt", prompt="x" * 2001)
    assert "2001" in error.message and "2000" in error.message


@pytest.mark.parametrize("duration", [3, 13, 0, -5])
def test_duration_outside_4_to_12_is_refused(duration: int) -> None:
    error = refused("duration", duration=duration)
    assert "4 to 12" in error.message


@pytest.mark.parametrize("duration", [4, 5, 12])
def test_duration_bounds_are_inclusive(duration: int) -> None:
    assert GenerationRequest("x", duration=duration).to_body()["duration"] == duration


@pytest.mark.parametrize("duration", [5.5, "5", True])
def test_duration_must_be_an_integer(duration: Any) -> None:
    refused("duration", duration=duration)


@pytest.mark.parametrize("quality", ["720", "4k", "1080P", ""])
def test_unknown_quality_is_refused(quality: str) -> None:
    refused("quality", quality=quality)


@pytest.mark.parametrize("ratio", ["16:10", "2:1", "auto", "16x9"])
def test_unknown_aspect_ratio_is_refused(ratio: str) -> None:
    refused("aspect_ratio", aspect_ratio=ratio)


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"])
def test_every_documented_aspect_ratio_is_accepted(ratio: str) -> None:
    GenerationRequest("x", aspect_ratio=ratio)


def test_three_images_are_refused() -> None:
    error = refused("image_urls", image_urls=["https://e.com/1.png"] * 3)
    assert "at most 2" in error.message


@pytest.mark.parametrize(
    "url", ["ftp://e.com/a.png", "e.com/a.png", "https://", "/tmp/a.png", "https://e.com/a b.png"]
)
def test_image_urls_must_be_http_urls(url: str) -> None:
    refused("image_urls", image_urls=[url])


def test_generate_audio_must_be_boolean() -> None:
    refused("generate_audio", generate_audio="yes")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://api.localhost/x",
        "https://10.1.2.3/x",
        "https://172.16.0.1/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest",  # link-local metadata service
        "https://100.64.0.1/x",  # carrier-grade NAT
        "https://[::1]/x",
        "https://[fd00::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
        "https://2130706433/x",  # 127.0.0.1 as one number
        "https://0x7f.1/x",
        "https://0177.0.0.1/x",
    ],
)
def test_callback_url_must_be_https_and_public(url: str) -> None:
    refused("callback_url", callback_url=url)


def test_callback_url_length_limit() -> None:
    base = "https://hooks.example.com/"
    GenerationRequest("x", callback_url=base + "a" * (2048 - len(base)))
    error = refused("callback_url", callback_url=base + "a" * (2049 - len(base)))
    assert "2048" in error.message


def test_public_callback_hosts_are_accepted() -> None:
    GenerationRequest("x", callback_url="https://8.8.8.8/hook")
    GenerationRequest("x", callback_url="https://hooks.example.com:8443/a?b=c")
    assert not is_internal_host("hooks.example.com")


def test_task_ids_are_checked_for_url_safety_but_prefix_is_left_to_the_api() -> None:
    assert check_task_id("task-unified-1761313744-vux2jw0k")
    assert check_task_id("some-new-form-123")  # the API answers 400 invalid_task_id if it must
    for bad in ("", "../credits", "a/b", "a?b", "a#b", "a b", "task\n"):
        with pytest.raises(ValidationError):
            check_task_id(bad)
    assert task_ids(["task-unified-1-a", "task-unified-1-a", "task-unified-2-b"]) == [
        "task-unified-1-a",
        "task-unified-2-b",
    ]


# -- tasks -----------------------------------------------------------------------------------------

SEED_ANSWER = {
    "created": 1761313744,
    "id": "task-unified-1761313744-vux2jw0k",
    "model": "seedance-1.5-pro",
    "object": "video.generation.task",
    "progress": 0,
    "status": "pending",
    "task_info": {"can_cancel": True, "estimated_time": 165, "video_duration": 8},
    "type": "video",
    "usage": {"billing_rule": "per_call", "credits_reserved": 8, "user_group": "default"},
}


def test_seed_answer_reads_as_a_running_task() -> None:
    task = Task.from_api(SEED_ANSWER)
    assert task.id == "task-unified-1761313744-vux2jw0k"
    assert (task.status, task.progress, task.created) == ("pending", 0, 1761313744)
    assert task.estimated_time == 165.0 and task.credits_reserved == 8.0
    assert not task.is_terminal and not task.succeeded and not task.failed
    assert task.raw is SEED_ANSWER


def test_status_sets() -> None:
    assert {"completed", "failed", "cancelled"} == TaskStatus.TERMINAL
    assert {"completed"} == TaskStatus.SUCCEEDED
    assert {"failed", "cancelled"} == TaskStatus.UNSUCCESSFUL


@pytest.mark.parametrize("status", ["queued", "running", "succeeded", "COMPLETED", "done"])
def test_unknown_status_is_still_running_never_success(status: str) -> None:
    task = Task.from_api({**SEED_ANSWER, "status": status, "results": ["https://r/x.mp4"]})
    assert not task.is_terminal
    assert not task.succeeded
    assert task.video_url is None


def test_completed_task_exposes_its_video() -> None:
    task = Task.from_api(
        {
            **SEED_ANSWER,
            "status": "completed",
            "progress": 100,
            "results": ["https://r/x.mp4", "https://r/y.mp4"],
        }
    )
    assert task.is_terminal and task.succeeded and not task.failed
    assert task.video_url == "https://r/x.mp4"
    assert task.results == ("https://r/x.mp4", "https://r/y.mp4")


def test_failed_task_without_error_object() -> None:
    task = Task.from_api({**SEED_ANSWER, "status": "failed"})
    assert task.failed and task.is_terminal and task.error is None


def test_cancelled_is_terminal_and_unsuccessful() -> None:
    task = Task.from_api({**SEED_ANSWER, "status": "cancelled"})
    assert task.failed and task.is_terminal and not task.succeeded


def test_failed_task_error_and_retryability() -> None:
    task = Task.from_api(
        {
            **SEED_ANSWER,
            "status": "failed",
            "error": {
                "code": "content_policy_violation",
                "message": "blocked",
                "type": "task_error",
            },
        }
    )
    assert task.error is not None
    assert (task.error.code, task.error.message, task.error.type) == (
        "content_policy_violation",
        "blocked",
        "task_error",
    )
    assert not task.error.retryable
    again = Task.from_api({**SEED_ANSWER, "status": "failed", "error": {"code": "service_error"}})
    assert again.error is not None and again.error.retryable and again.error.message == ""


@pytest.mark.parametrize(
    ("progress", "expected"), [(None, 0), ("50", 0), (150, 100), (-3, 0), (42.7, 42), (True, 0)]
)
def test_odd_progress_values_are_tolerated(progress: Any, expected: int) -> None:
    assert Task.from_api({**SEED_ANSWER, "progress": progress}).progress == expected


def test_missing_optional_fields_are_tolerated() -> None:
    task = Task.from_api({"id": "task-unified-1-abcdefgh", "status": "processing"})
    assert task.progress == 0 and task.results == () and task.estimated_time is None


@pytest.mark.parametrize(
    "data", [None, [], "task", {"status": "pending"}, {"id": "", "status": "x"}, {"id": "t"}]
)
def test_answers_without_id_or_status_are_bad_responses(data: Any) -> None:
    with pytest.raises(BadResponse):
        Task.from_api(data)


def test_credits_shape() -> None:
    credits = Credits.from_api(
        {
            "success": True,
            "message": "",
            "data": {
                "token": {
                    "remaining_credits": 99416.4429,
                    "unlimited_credits": False,
                    "used_credits": 583.5571,
                },
                "user": {"remaining_credits": 1095.3996, "used_credits": 135.9048},
            },
        }
    )
    assert credits.token.remaining == 99416.4429 and credits.token.used == 583.5571
    assert credits.user.remaining == 1095.3996 and not credits.token.unlimited
    with pytest.raises(BadResponse):
        Credits.from_api({"data": {"token": {}}})


# -- the tolerant parser: the id is sacred, everything else best effort -----------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
TASK_FIELDS = (
    "status",
    "progress",
    "results",
    "error",
    "created",
    "model",
    "task_info",
    "usage",
    "billing",
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(TASK_FIELDS), JSON_VALUES, max_size=len(TASK_FIELDS)))
def test_any_answer_with_an_id_yields_a_task_with_that_id(fields: dict[str, Any]) -> None:
    task = Task.from_api({**fields, "id": "task-unified-1-abcdefgh"}, default_status="pending")
    assert task.id == "task-unified-1-abcdefgh"
    assert 0 <= task.progress <= 100
    assert task.created is None or 0 <= task.created < 1e11
    for number in (task.estimated_time, task.credits_reserved):
        assert number is None or math.isfinite(number)
    billing = task.billing
    amounts = [task.credits_reserved, task.credits_used]
    amounts += [billing.reserved, billing.charged, billing.refunded] if billing else []
    assert all(amount is None or 0 <= amount <= 1e9 for amount in amounts)
    assert isinstance(task.status, str) and task.status
    assert task.error is None or isinstance(task.error.message, str)


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES)
def test_any_answer_at_all_is_a_task_or_a_bad_response(data: Any) -> None:
    with contextlib.suppress(BadResponse):
        Task.from_api(data)


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (1761313744, 1761313744),
        (1761313744123, 1761313744),  # milliseconds
        (1761313744123456, 1761313744),  # microseconds
        (float("inf"), None),
        (float("nan"), None),
        (-5, None),
        (10**400, None),  # beyond any float
        (1e30, None),
        ("1761313744", None),
    ],
)
def test_created_is_epoch_seconds_or_none(created: Any, expected: int | None) -> None:
    assert Task.from_api({**SEED_ANSWER, "created": created}).created == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("task_info", {"estimated_time": float("inf")}),
        ("task_info", {"estimated_time": float("nan")}),
        ("task_info", {"estimated_time": 10**400}),
        ("usage", {"credits_reserved": float("nan")}),
        ("usage", {"credits_reserved": -1e999}),
    ],
)
def test_non_finite_numbers_become_none(field: str, value: Any) -> None:
    task = Task.from_api({**SEED_ANSWER, field: value})
    assert getattr(task, "estimated_time" if field == "task_info" else "credits_reserved") is None


@pytest.mark.parametrize(
    ("progress", "expected"), [(1e9, 100), (float("inf"), 0), (float("nan"), 0), (10**400, 0)]
)
def test_absurd_progress_is_bounded(progress: Any, expected: int) -> None:
    assert Task.from_api({**SEED_ANSWER, "progress": progress}).progress == expected


def test_an_answer_without_status_is_pending_only_when_the_caller_says_so() -> None:
    answer = {k: v for k, v in SEED_ANSWER.items() if k != "status"}
    assert Task.from_api(answer, default_status="pending").status == "pending"
    with pytest.raises(BadResponse, match="no status"):
        Task.from_api(answer)


@pytest.mark.parametrize("task_id", ["", "../../etc/passwd", "a b", "x" * 300, "task\n1"])
def test_an_id_that_could_not_be_used_is_no_id(task_id: str) -> None:
    with pytest.raises(BadResponse, match="task id"):
        Task.from_api({**SEED_ANSWER, "id": task_id})


def test_long_server_texts_are_cut() -> None:
    task = Task.from_api(
        {
            **SEED_ANSWER,
            "status": "s" * 10_000,
            "error": {"code": "c" * 10_000, "message": "m" * 10**6},
        }
    )
    assert len(task.status) <= 64
    assert task.error is not None and len(task.error.code) <= 100 and len(task.error.message) <= 500


def test_credits_with_non_finite_or_huge_numbers_are_a_bad_response() -> None:
    for bad in (float("nan"), float("inf"), 10**400):
        data = {
            "data": {
                name: {"remaining_credits": bad, "used_credits": 0} for name in ("token", "user")
            }
        }
        with pytest.raises(BadResponse):
            Credits.from_api(data)


def test_billing_and_usage_figures_are_read_when_they_come() -> None:
    task = Task.from_api(
        {
            **SEED_ANSWER,
            "usage": {"credits_reserved": 17.784, "credits_used": 17.784},
            "billing": {
                "charge_status": "charged",
                "refund_status": "none",
                "reserved_credits": 17.784,
                "charged_credits": 17.784,
                "refunded_credits": 0,
            },
        }
    )
    assert task.credits_used == 17.784
    assert task.billing is not None
    assert (task.billing.charge_status, task.billing.charged, task.billing.refunded) == (
        "charged",
        17.784,
        0.0,
    )


@pytest.mark.parametrize("absurd", [1e300, -5, float("nan"), "12", True, 1e10])
def test_absurd_credit_figures_are_read_as_absent_never_clamped(absurd: object) -> None:
    """A lying server must not make a task look as if it cost a billion (or gave money back)."""
    task = Task.from_api(
        {
            **SEED_ANSWER,
            "usage": {"credits_reserved": absurd, "credits_used": absurd},
            "billing": {"charged_credits": absurd, "charge_status": "charged"},
        }
    )
    assert task.credits_reserved is None and task.credits_used is None
    assert task.billing is not None and task.billing.charged is None
