"""The credentials of a ``ga4`` account: a user's OAuth refresh token or a service account."""

from __future__ import annotations

from typing import Any

from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config
from kpiwatch_platforms.ga4.service_account import ServiceAccountAuth
from kpiwatch_platforms.ga4.settings import GA4Settings

#: Where the account's state keeps the tokens.
OAUTH_STATE_KEY = "oauth"
SERVICE_ACCOUNT_STATE_KEY = "service_account"


def account_auth(settings: GA4Settings, state: dict[str, Any]) -> OAuth2 | ServiceAccountAuth:
    """The ``auth=`` of the account's requests (settings guarantee exactly one kind)."""
    if settings.oauth is not None:
        oauth = settings.oauth
        config = OAuth2Config(
            token_url=oauth.token_url,
            client_id=oauth.client_id,
            client_secret=oauth.client_secret.get_secret_value(),
            refresh_token=oauth.refresh_token.get_secret_value(),
        )
        return OAuth2(config, state, key=OAUTH_STATE_KEY)
    if settings.service_account is None:  # unreachable with validated settings
        raise ValueError("ga4 settings name neither oauth nor service_account")
    return ServiceAccountAuth(settings.service_account, state, key=SERVICE_ACCOUNT_STATE_KEY)
