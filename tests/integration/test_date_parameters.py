"""YAML dates in parameters converge against a real local Prefect server.

YAML reads `2024-01-02` as a date; the server stores JSON text. If the plan
compared the date with the text the server returns, every deploy would
rewrite the deployment and never report "unchanged".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowportal import Portal
from portal_core.plan import Action
from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import make_project

pytestmark = pytest.mark.integration

STATIC = """\
alpha:
    parameters:
        label: 2024-01-02
        count: 3
        when: {at: 2024-01-02T03:04:05Z, local: 2024-01-02 03:04:05.5, days: [2024-02-29]}
"""


def test_a_date_parameter_deploys_once_then_is_unchanged(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["alpha"], static=STATIC)
    portal = Portal(tmp_path)

    first = portal.deploy(["alpha"], "dev")
    assert [c.action for c in first.plan.changes] == [Action.CREATE]
    assert first.exit_code == 0 and all(r.ok for r in first.results)
    (state,) = PrefectGateway(prefect_api_url).read_deployments(names=[f"{project}--main--alpha--dev"])
    assert state.parameters == {
        "label": "2024-01-02",
        "count": 3,
        "when": {"at": "2024-01-02T03:04:05Z", "local": "2024-01-02T03:04:05.500000",
                 "days": ["2024-02-29"]},
    }

    second = Portal(tmp_path).deploy(["alpha"], "dev")
    assert [c.action for c in second.plan.changes] == [Action.UNCHANGED]
    assert second.results == ()
