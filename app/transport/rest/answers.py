"""What REST answers for a write and a sign-in, in Parse Server's key order: an operation's results first, then the
id and time, then what the server filled in or a hook changed; a session token last."""

from __future__ import annotations

from app.domain.accounts import SignedIn
from app.domain.values import Record
from app.domain.writes import WriteResult


def created(result: WriteResult) -> Record:
    stored = result.object
    if result.whole is not None:
        return {**result.whole, "objectId": stored["objectId"]}
    return {
        **result.echoed,
        "objectId": stored["objectId"],
        "createdAt": stored["createdAt"],
        **result.filled,
        **result.hooked,
    }


def updated(result: WriteResult) -> Record:
    answer = {**result.echoed, "updatedAt": result.object["updatedAt"], **result.hooked}
    if result.session_token is not None:
        answer["sessionToken"] = result.session_token
    return answer


def signed_in(signed: SignedIn) -> Record:
    """A log-in answers the user; a sign-up what its create answers, with the random username of a user made by
    `authData`; then the session token (none while the email awaits verification)."""
    if signed.written is None:
        answer = {**signed.user, "sessionToken": signed.session_token}
    else:
        answer = created(signed.written)
        if signed.provider is not None:
            answer["username"] = signed.user["username"]
        if signed.session_token is not None:
            answer["sessionToken"] = signed.session_token
    if signed.provider is not None:
        answer["authDataResponse"] = {}
    return answer
