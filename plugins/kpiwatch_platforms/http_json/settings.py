"""Settings of an ``http_json`` account: the requests to send, their authentication and
pagination, and how each answer maps to vocabulary metrics and posts."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kpiwatch_platforms.http_json.expressions import JmesPath
from kpiwatch_platforms.http_json.vocabulary_checks import (
    content_type,
    metric_dimensions,
    metric_window,
    post_metric,
    static_dimensions,
    vocabulary_metric,
)

REQUEST_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{value!r} is not an http(s) URL; write for example https://api.example.com/v1/stats"
        )
    return value


def _request_name(value: str) -> str:
    if not REQUEST_NAME.match(value):
        raise ValueError(
            f"request name {value!r} must start with a letter and hold letters, digits, _ or -; "
            "write for example profile"
        )
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
RequestName = Annotated[str, AfterValidator(_request_name)]
ContentType = Annotated[str, AfterValidator(content_type)]
ParamValue = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(_Strict):
    username: str = Field(min_length=1)
    password: SecretStr


class ApiKeyAuth(_Strict):
    """An API key sent in a header or as a query parameter."""

    value: SecretStr
    header: str | None = Field(None, min_length=1, description="e.g. X-API-Key")
    query: str | None = Field(None, min_length=1, description="e.g. api_key")

    @model_validator(mode="after")
    def _one_place(self) -> ApiKeyAuth:
        if (self.header is None) == (self.query is None):
            raise ValueError(
                "say where the key goes with exactly one of header or query; "
                "write header: X-API-Key or query: api_key"
            )
        return self


class AuthSettings(_Strict):
    """Exactly one way to authenticate."""

    bearer: SecretStr | None = Field(None, description="Sent as Authorization: Bearer <token>.")
    basic: BasicAuth | None = None
    api_key: ApiKeyAuth | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthSettings:
        given = [k for k in ("bearer", "basic", "api_key") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"auth needs exactly one of bearer, basic or api_key (got {len(given)}); "
                "write for example bearer: ${API_TOKEN}"
            )
        return self


class Pagination(_Strict):
    """How to find the next page: a URL in the body, a Link header or a cursor in the body."""

    next_url: JmesPath | None = Field(None, description="Path to the next page's URL.")
    link_header: bool = Field(False, description="Follow the Link header's rel=next URL.")
    next_cursor: JmesPath | None = Field(None, description="Path to the next page's cursor.")
    cursor_param: str | None = Field(None, min_length=1, description="Query key of the cursor.")
    max_pages: int = Field(10, ge=1, le=1000, description="Pages read per request and poll.")

    @model_validator(mode="after")
    def _one_scheme(self) -> Pagination:
        schemes = [self.next_url is not None, self.link_header, self.next_cursor is not None]
        if sum(schemes) != 1:
            raise ValueError(
                "pagination needs exactly one of next_url, link_header: true or next_cursor; "
                "write for example next_url: links.next"
            )
        if (self.next_cursor is None) != (self.cursor_param is None):
            raise ValueError(
                "next_cursor and cursor_param go together; "
                "write next_cursor: meta.next_token and cursor_param: pagination_token"
            )
        return self


class RequestSettings(_Strict):
    """One request; its JSON answer (every page of it) is what metric paths read."""

    name: RequestName = "main"
    url: HttpUrl
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, ParamValue] = Field(default_factory=dict)
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    body: Any = Field(None, description="A JSON body (with method: POST).")
    pagination: Pagination | None = None

    @model_validator(mode="after")
    def _body_with_post(self) -> RequestSettings:
        if self.body is not None and self.method != "POST":
            raise ValueError("a body is sent only with method: POST; add method: POST")
        return self


def _vocabulary_name(value: str) -> str:
    vocabulary_metric(value)
    return value


VocabularyName = Annotated[str, AfterValidator(_vocabulary_name)]


class MetricMapping(_Strict):
    """One vocabulary metric read from an answer (or from each item of a list in it)."""

    metric: VocabularyName
    path: JmesPath = Field(description="Where the value is (in the answer, or in each item).")
    request: str | None = Field(None, description="The request to read; default: the first.")
    window: str | None = Field(None, validate_default=True)
    dims: dict[str, str] = Field(default_factory=dict, description="Fixed dimension values.")
    dim_paths: dict[str, JmesPath] = Field(
        default_factory=dict, description="Dimension values read from the answer or item."
    )
    each: JmesPath | None = Field(None, description="A list; one sample per item.")
    timestamp: JmesPath | None = Field(
        None, description="When the value was true (ISO-8601 or unix seconds); default: now."
    )
    scale: float = Field(1.0, allow_inf_nan=False, description="Multiplies the value.")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None, info: ValidationInfo) -> str | None:
        name = info.data.get("metric")
        return value if name is None else metric_window(vocabulary_metric(name), value)

    @field_validator("dims")
    @classmethod
    def _dims(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        name = info.data.get("metric")
        if name is not None:
            static_dimensions(vocabulary_metric(name), value)
        return value

    @field_validator("dim_paths")
    @classmethod
    def _dim_paths(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        name = info.data.get("metric")
        if name is not None:
            metric_dimensions(vocabulary_metric(name), value)
        both = sorted(set(value) & set(info.data.get("dims") or {}))
        if both:
            raise ValueError(
                f"dimension {both[0]!r} is in dims and dim_paths; keep it in one of them"
            )
        return value


class PostsMapping(_Strict):
    """Recent posts read from a list in an answer, with per-post vocabulary metrics."""

    request: str | None = None
    items: JmesPath = Field(description="The list of posts, e.g. data.posts.")
    id: JmesPath = Field(description="Path to the post's id in an item.")
    published_at: JmesPath = Field(description="ISO-8601 time or unix seconds.")
    content_type: JmesPath | None = Field(None, description="Path to the item's type.")
    content_types: dict[str, ContentType] = Field(
        default_factory=dict, description="The API's types -> content types of the vocabulary."
    )
    default_content_type: ContentType = "other"
    url: JmesPath | None = None
    metrics: dict[str, JmesPath] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _post_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            post_metric(name)
        return value


class HttpJsonSettings(_Strict):
    """An account read from any JSON API.

    Write ``url`` (with ``method``, ``body``, ``pagination``) for one request, or
    ``requests`` for several; ``headers`` and ``params`` here go with every request.
    """

    url: HttpUrl | None = None
    method: Literal["GET", "POST"] = "GET"
    body: Any = None
    pagination: Pagination | None = None
    requests: list[RequestSettings] = Field(default_factory=list)
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    auth: AuthSettings | None = None
    metrics: list[MetricMapping] = Field(default_factory=list)
    posts: PostsMapping | None = None
    rate_limit_headers: Literal["auto", "x", "mastodon", "ietf", "meta", "none"] = Field(
        "auto", description="Which rate-limit headers the API sends; auto tries each."
    )

    @model_validator(mode="after")
    def _consistent(self) -> HttpJsonSettings:
        if self.url is None and not self.requests:
            raise ValueError(
                "say what to fetch; write url: https://api.example.com/stats or a requests: list"
            )
        if self.url is not None and self.requests:
            raise ValueError("write either url or requests, not both; move url into requests")
        if self.requests and (self.pagination or self.body is not None or self.method != "GET"):
            raise ValueError(
                "method, body and pagination here go with url only; "
                "with requests, write them in each request"
            )
        names = [r.name for r in self.all_requests()]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"request name {repeated[0]!r} is used twice; give each its own name")
        if not self.metrics and self.posts is None:
            raise ValueError(
                "nothing to read; add metrics: [{metric: followers, path: followers_count}] "
                "or posts:"
            )
        used = {m.request or names[0] for m in self.metrics}
        if self.posts is not None:
            used.add(self.posts.request or names[0])
        unknown = sorted(used - set(names))
        if unknown:
            raise ValueError(f"no request is called {unknown[0]!r}; requests: {', '.join(names)}")
        unused = [n for n in names if n not in used]
        if unused:
            raise ValueError(
                f"request {unused[0]!r} is read by no metric; remove it or add "
                f"request: {unused[0]} to a metric"
            )
        return self

    def all_requests(self) -> list[RequestSettings]:
        """The requests to send, the ``url`` shortcut as a request called ``main``."""
        if self.url is not None:
            return [
                RequestSettings(
                    url=self.url, method=self.method, body=self.body, pagination=self.pagination
                )
            ]
        return list(self.requests)

    def request_of(self, name: str | None) -> str:
        """The request name a metric or the posts read (the first one when not given)."""
        return name or self.all_requests()[0].name
