"""What every sync manager shares (get, paged list, lazy iter, get by id or name); users.

A manager builds request specs (``core``), hands them to its client's transport and turns the
data into models (``models``).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from saltant_provider.client import checks, core
from saltant_provider.client.exceptions import (
    NotFoundError,
    UnexpectedResponseError,
)
from saltant_provider.client.models import (
    Model,
    User,
)

if TYPE_CHECKING:
    from saltant_provider.client.sync import Client


M = TypeVar("M", bound=Model)


class ModelManager(Generic[M]):
    """Get, list and iterate one kind of saltant object."""

    resource: str = ""
    model: type[M]
    is_async = False

    def __init__(self, _client: Client) -> None:
        self._client = _client

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._client.base_api_url!r})"

    @property
    def path(self) -> str:
        return core.PATHS[self.resource]

    # saltant-py's public helpers, kept so code that used them still runs.
    @property
    def list_url(self) -> str:
        return self.path

    @property
    def detail_url(self) -> str:
        return self.path + "{id}/"

    def response_data_to_model_instance(self, response_data: object) -> M:
        """A model from one object of response data (unknown fields ignored)."""
        return self.model.from_json(response_data, self)

    def response_data_to_model_instances_list(self, response_data: object) -> builtins.list[M]:
        """Models from a page of response data (``{"results": [...]}``)."""
        spec = core.RequestSpec("GET", core.join(self._client.base_api_url, self.path))
        _, _, raw = core.parse_page_envelope(spec, response_data)
        return [self.model.from_json(item, self) for item in raw]

    @staticmethod
    def validate_request_success(
        response_text: str, request_url: str, status_code: int, expected_status_code: int
    ) -> None:
        """Raise the client's error if ``status_code`` is not the one expected."""
        if status_code != expected_status_code:
            spec = core.RequestSpec("GET", request_url)
            if 200 <= status_code < 300:
                raise UnexpectedResponseError(
                    f"expected HTTP {expected_status_code}, got {status_code}",
                    status_code=status_code,
                    url=request_url,
                )
            raise core.error_for(spec, status_code, {}, response_text.encode("utf-8", "replace"))

    def _send(self, spec: core.RequestSpec) -> Any:
        return self._client._send(spec)

    def _one(self, spec: core.RequestSpec) -> M:
        return self.model.from_json(self._send(spec), self)

    def _get(self, key: object) -> M:
        return self._one(core.get_spec(self._client.base_api_url, self.path, key))

    def list_page(
        self,
        filters: Mapping[str, Any] | None = None,
        page: int = 1,
        page_size: int = core.DEFAULT_PAGE_SIZE,
    ) -> core.Page:
        """One page of results: ``Page(count, next, results)``."""
        params = checks.check_filters(self.resource, filters)
        page, page_size = checks.check_page(page, page_size)
        spec = core.list_spec(self._client.base_api_url, self.path, params, page, page_size)
        count, nxt, raw = core.parse_page_envelope(spec, self._send(spec))
        return core.Page(count, nxt, [self.model.from_json(item, self) for item in raw])

    def iter(
        self, filters: Mapping[str, Any] | None = None, page_size: int = core.DEFAULT_PAGE_SIZE
    ) -> Iterator[M]:
        """Yield every matching object, fetching one page at a time (memory stays flat)."""
        params = checks.check_filters(self.resource, filters)
        _, page_size = checks.check_page(1, page_size)
        api = self._client.base_api_url
        page = 1
        while True:
            spec = core.list_spec(api, self.path, params, page, page_size)
            try:
                data = self._send(spec)
            except NotFoundError:
                if page == 1:
                    raise
                return  # "Invalid page.": the list shrank under us
            count, nxt, raw = core.parse_page_envelope(spec, data)
            for item in raw:
                yield self.model.from_json(item, self)
            if not core.has_next_page(page, page_size, count, nxt, len(raw)):
                return
            page += 1

    def list(self, filters: Mapping[str, Any] | None = None) -> list[M]:
        """Every matching object, fetched page by page.

        As in saltant-py, ``page`` in ``filters`` returns just that page, and ``page_size``
        sets the page size.
        """
        checks.check_filters(self.resource, filters)
        filters = dict(filters or {})
        page_size = filters.pop("page_size", core.DEFAULT_PAGE_SIZE)
        if "page" in filters:
            return self.list_page(filters, filters.pop("page"), page_size).results
        # Instances are listed newest first, so one created while we page shifts the rest by
        # one and an object can show up on two pages: keep the first sighting only.
        seen: set[object] = set()
        result = []
        for item in self.iter(filters, page_size=page_size):
            key = _identity(item)
            if key not in seen:
                seen.add(key)
                result.append(item)
        return result


def _identity(model: Model) -> object:
    for name in ("uuid", "id", "username"):
        if hasattr(model, name):
            return getattr(model, name)
    return id(model)  # pragma: no cover


class ByIdOrNameMixin(ModelManager[M]):
    def get(self, id: int | None = None, name: str | None = None) -> M:
        """The object with this ``id``, or else with this ``name`` (exactly one of the two)."""
        key, value = checks.check_get_key(id, name)
        if key == "id":
            return self._get(value)
        found = self.list_page({"name": value}, 1, 2).results
        if not found:
            raise NotFoundError(
                f"no {self.resource[:-1].replace('_', ' ')} named {value!r}",
                status_code=404,
                url=core.join(self._client.base_api_url, self.path),
                method="GET",
            )
        return found[0]


class UserManager(ModelManager[User]):
    resource = "users"
    model = User

    def get(self, username: str) -> User:
        """The user with this username."""
        return self._get(checks.check_username(username))
