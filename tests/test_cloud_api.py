"""The API cloud code imports is what app.cloud exports, no more: a change to it is a change for users."""

from __future__ import annotations

import app.cloud


def test_the_public_cloud_api_is_pinned() -> None:
    assert sorted(app.cloud.__all__) == [
        "Cloud",
        "CloudError",
        "CloudObject",
        "CloudQuery",
        "EmailRequest",
        "EventRequest",
        "Field",
        "FileInfo",
        "FileRequest",
        "FindRequest",
        "FunctionRequest",
        "JobRequest",
        "LiveQueryRequest",
        "ObjectRequest",
        "Request",
        "Validator",
    ]
    assert all(hasattr(app.cloud, name) for name in app.cloud.__all__)


def test_a_trigger_on_sessions_other_than_after_logout_is_refused_at_registration() -> None:
    cloud = app.cloud.Cloud()
    try:
        cloud.before_save("_Session")
    except ValueError as error:
        assert "after_logout" in str(error)
    else:
        raise AssertionError("a before_save on _Session was accepted")
