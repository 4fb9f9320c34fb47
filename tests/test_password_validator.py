"""Parse's `passwordPolicy.validatorCallback` as cloud code's `@cloud.password_validator`: every new password, on
sign-up and on change, is put to it; a false answer is Parse's validation error (142)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLOUD = """
from app.cloud import Cloud, CloudError

cloud = Cloud()


@cloud.password_validator
def has_a_digit(password):
    if password == "explode1":
        raise CloudError("the checker broke")
    return any(character.isdigit() for character in password)
"""


async def test_new_passwords_are_put_to_cloud_codes_validator(database_server: str, tmp_path: Path) -> None:
    (tmp_path / "cloud.py").write_text(CLOUD)
    settings = make_settings(
        database_server, "password_validator", tmp_path, cloud=str(tmp_path / "cloud.py"), password_history=2
    )
    async with running(settings) as (_, client):
        api = Api(client)
        refused = await api.post("/users", {"username": "ada", "password": "letters"})
        assert (refused.status_code, refused.json()) == (
            400,
            {"code": 142, "error": "Password does not meet the Password Policy requirements."},
        )
        ada = await api.post("/users", {"username": "ada", "password": "letters1"})
        assert ada.status_code == 201, ada.text
        path, token = f"/users/{ada.json()['objectId']}", ada.json()["sessionToken"]
        assert (await api.put(path, {"password": "nodigits"}, token=token)).json()["code"] == 142
        assert (await api.put(path, {"password": "explode1"}, token=token)).json() == {
            "code": 141,
            "error": "the checker broke",
        }
        changed = await api.put(path, {"password": "digits22"}, token=token)
        assert changed.status_code == 200, changed.text
        assert (await api.post("/login", {"username": "ada", "password": "digits22"})).status_code == 200
