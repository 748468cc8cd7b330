"""The Prefect REST API over plain HTTP (standard library only, no `prefect` import).

`transport` sends requests and classifies failures, `pacing` decides how many
writes may be in flight, `payloads` builds request bodies and checks answers,
`api` turns all of it into calls with retries and one-line errors, and
`gateway` is what the use cases see (`PrefectGateway`).
"""

from portal_io.prefect_api.api import PrefectApiError, Timeouts
from portal_io.prefect_api.gateway import PrefectGateway

__all__ = ["PrefectApiError", "PrefectGateway", "Timeouts"]
