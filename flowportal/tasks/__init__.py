"""The invoke task collection shared by `tasks.py` and the `flowportal` console script.

Importing it must stay cheap (no `prefect`): task bodies import what they need.
"""

from __future__ import annotations

from invoke.collection import Collection

from flowportal.tasks import server
from flowportal.tasks.checks import check_config
from flowportal.tasks.deployments import deploy, list_deployments
from flowportal.tasks.flows import list_flows
from flowportal.tasks.lifecycle import drift, history, prune, rollback
from flowportal.tasks.promotion import diff, promote
from flowportal.tasks.setup import init

namespace = Collection(
    init, list_flows, list_deployments, deploy, promote, diff, check_config, server.ns,
    history, rollback, drift, prune,
)
