"""The signed JWT a service account presents to Google's token endpoint (JWT bearer grant).

Header ``{"alg": "RS256", "typ": "JWT", "kid": <private_key_id>}``, claims ``{"iss":
<client_email>, "scope": ..., "aud": <token_uri>, "iat": now, "exp": now + 3600}``, signed
with the key's RSA private key (RSASSA-PKCS1-v1_5 with SHA-256). The signature needs the
``cryptography`` package; Google advises against writing RSA signing by hand, so kpiwatch
does not.
"""

from __future__ import annotations

import base64
import json

from kpiwatch_platforms.ga4.service_key import ServiceKey

#: Read-only access to Google Analytics data.
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
#: Longest lifetime Google accepts for an assertion.
LIFETIME = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_assertion(key: ServiceKey, now: float) -> str:
    """The JWT for ``key`` issued at ``now``; ValueError when the private key is unusable."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    header = {"alg": "RS256", "typ": "JWT", "kid": key.private_key_id}
    issued = int(now)
    claims = {
        "iss": key.client_email,
        "scope": SCOPE,
        "aud": key.token_uri,
        "iat": issued,
        "exp": issued + LIFETIME,
    }
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    try:
        private_key = serialization.load_pem_private_key(key.private_key.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the private key cannot be read ({exc})") from None
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key")
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"
