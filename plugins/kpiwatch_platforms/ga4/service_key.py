"""A Google service account's JSON key: the fields the JWT bearer grant needs.

The key file the Cloud console downloads is ``{"type": "service_account", "project_id",
"private_key_id", "private_key": "-----BEGIN PRIVATE KEY-----...", "client_email",
"token_uri": "https://oauth2.googleapis.com/token", ...}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_URL = re.compile(r"^https?://[^/?#]+")


@dataclass(frozen=True)
class ServiceKey:
    """What signs and addresses the token request; repr hides the private key."""

    client_email: str
    private_key_id: str
    token_uri: str
    private_key: str = field(repr=False)


def parse_service_key(text: str, where: str) -> ServiceKey:
    """The key in ``text`` (JSON); ValueError naming ``where`` and what to fix."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(
            f"{where} is not JSON: give the service account key file as downloaded from the "
            "Cloud console (IAM & Admin > Service accounts > Keys > Add key > JSON)"
        ) from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise ValueError(
            f'{where} is not a service account key (its "type" must be "service_account"); '
            "an OAuth client file is not a key: use oauth: for that"
        )
    values: dict[str, str] = {}
    for name in ("client_email", "private_key", "private_key_id"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f'{where} has no "{name}": download a new JSON key for the account')
        values[name] = value
    if "PRIVATE KEY-----" not in values["private_key"]:
        raise ValueError(f'{where}: "private_key" is not a PEM private key')
    token_uri = data.get("token_uri", "https://oauth2.googleapis.com/token")
    if not isinstance(token_uri, str) or not _URL.match(token_uri):
        raise ValueError(f'{where}: "token_uri" {token_uri!r} is not an http(s) URL')
    return ServiceKey(
        client_email=values["client_email"],
        private_key_id=values["private_key_id"],
        token_uri=token_uri,
        private_key=values["private_key"],
    )
