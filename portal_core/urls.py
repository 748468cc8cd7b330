"""Deployment URLs in the Prefect UI, for Prefect Cloud and self-hosted servers alike."""

from __future__ import annotations

import re

_CLOUD_API = re.compile(
    r"^https://api\.(?P<host>[^/]+)/api/accounts/(?P<account>[^/]+)/workspaces/(?P<workspace>[^/]+)/?$"
)


def is_prefect_cloud(api_url: str) -> bool:
    """A Prefect Cloud workspace API (some features, e.g. metric triggers, exist only there)."""
    return _CLOUD_API.match(api_url) is not None


def ui_base(api_url: str, ui_url: str | None = None) -> str:
    """Where the UI lives for an API URL.

    Cloud's API `https://api.prefect.cloud/api/accounts/A/workspaces/W` maps to
    `https://app.prefect.cloud/account/A/workspace/W`; a self-hosted server serves
    its UI at the API URL without the trailing `/api`. An explicit `ui_url` wins
    (servers behind a proxy that moves the UI).
    """
    if ui_url:
        return ui_url.rstrip("/")
    cloud = _CLOUD_API.match(api_url)
    if cloud:
        return (
            f"https://app.{cloud['host']}/account/{cloud['account']}/workspace/{cloud['workspace']}"
        )
    base = api_url.rstrip("/")
    return base[: -len("/api")] if base.endswith("/api") else base


def deployment_url(api_url: str, deployment_id: str, ui_url: str | None = None) -> str:
    return f"{ui_base(api_url, ui_url)}/deployments/deployment/{deployment_id}"

