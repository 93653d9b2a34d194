"""What the Admin and Compliance clients share: key check, API session, item parsing.

A client is built for one tenant's call from its ``TenantAccess``: the key the API needs is
checked to be configured (a typed ``AuthenticationError`` otherwise, raised before any
request) and one ``ApiSession`` (shared rate budget, retries, typed errors) is made for the
API's base URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from connectors.access import ClientOptions, TenantAccess
from connectors.checkpoints import ListingCheckpoints
from connectors.errors import AuthenticationError, MalformedResponseError
from connectors.http import Api, ApiSession, CallObserver
from connectors.ratelimit import RateBudget
from schemas.stages import Remedy

M = TypeVar("M", bound=BaseModel)


def parse_item(model: type[M], item: dict[str, Any], route: str) -> M:
    """Validate one list item; a wrong shape is a malformed response, never a crash.

    The pydantic error is summarised by field location only: its default text would echo
    input values into logs and scan records.
    """
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors()})
        raise MalformedResponseError(
            f"GET {route} returned a {model.__name__} with invalid fields: {', '.join(fields)}",
            route=route,
        ) from None


class ApiClient:
    """Base of the read-only API clients of one tenant.

    Subclasses name their ``api`` (the session's label in metrics and errors), the
    ``key_label`` an operator knows the key by, and the fields
    of ``TenantAccess`` holding the API's key and base URL; ``setup`` adds what a client
    needs besides its API session.
    """

    api: ClassVar[Api]
    key_label: ClassVar[str]
    key_field: ClassVar[str]
    base_field: ClassVar[str]

    def __init__(
        self,
        access: TenantAccess,
        budget: RateBudget,
        *,
        http: httpx.Client | None = None,
        options: ClientOptions | None = None,
        observer: CallObserver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        checkpoints: ListingCheckpoints | None = None,
    ) -> None:
        key: SecretStr | None = getattr(access, self.key_field)
        base_url: str = getattr(access, self.base_field)
        if key is None or not key.get_secret_value():
            raise AuthenticationError(
                f"no {self.key_label} key is configured for this tenant",
                hint=f"set the tenant's {self.key_label} key",
                remedy=Remedy.SET_KEY,
                api=self.api,
            )
        self.access = access
        self.options = options or ClientOptions()
        self._sleep = sleep
        self.session = ApiSession(
            tenant_key=access.tenant_key,
            api=self.api,
            base_url=base_url,
            key=key,
            budget=budget,
            http=http,
            options=self.options,
            observer=observer,
            sleep=sleep,
            checkpoints=checkpoints,
        )
        self.setup(http)

    def setup(self, http: httpx.Client | None) -> None:
        """What the client needs besides its API session (``http``: the injected client)."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(tenant={self.access.tenant_key!r}, "
            f"base={getattr(self.access, self.base_field)!r})"
        )
