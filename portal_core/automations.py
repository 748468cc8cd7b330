"""A deployment's triggers, as the Prefect automations that run it.

Prefect has no "trigger" object on a deployment: `flow.deploy(triggers=...)`
creates one automation per trigger, *owned* by the deployment
(`owner_resource = prefect.deployment.<id>`), whose one action runs that
deployment. Prefect's own deploy deletes every owned automation and creates
them again on each deploy. We do better, because a plan must be idempotent:

* each trigger of the static config is checked and completed here, at load
  time, into exactly the body Prefect's client sends (every default filled in,
  durations in seconds), so a typo is an error at `file:line:col` before
  anything is written, never a 422 after the deployment was;
* each automation carries a `SPEC_DIGEST=<hash>` tag of that body, so the
  plan compares digests instead of re-deriving the server's defaults: an
  unchanged trigger writes nothing, a changed one is updated in place (same id),
  a removed one is deleted, an owned automation we did not make (the seed SDK's)
  is replaced by ours.

Both forms of the static config are accepted: Prefect's list (`- type: event`)
and the seed SDK's mapping of trigger class name to arguments.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from portal_core.errors import ConfigError, did_you_mean
from portal_core.json_values import json_like
from portal_core.tags import MANAGED_BY, MANAGED_BY_VALUE, make_tag, tag_value

Path = tuple[str | int, ...]

#: The seed SDK's trigger classes (its `triggers:` mapping keys) and their `type`.
SDK_TRIGGER_CLASSES = {
    "DeploymentEventTrigger": "event",
    "DeploymentMetricTrigger": "metric",
    "DeploymentCompoundTrigger": "compound",
    "DeploymentSequenceTrigger": "sequence",
}
TRIGGER_TYPES = ("event", "metric", "compound", "sequence")

#: Fields of a deployment trigger that belong to the automation or its run action,
#: not to the trigger itself.
DEPLOYMENT_FIELDS = ("name", "description", "enabled", "parameters", "job_variables", "schedule_after")
_RESOURCE_FIELDS = ("match", "match_related")
TRIGGER_FIELDS: Mapping[str, tuple[str, ...]] = {
    "event": ("type", *_RESOURCE_FIELDS, "after", "expect", "for_each", "posture", "threshold", "within"),
    "metric": ("type", *_RESOURCE_FIELDS, "posture", "metric"),
    "compound": ("type", "triggers", "within", "require"),
    "sequence": ("type", "triggers", "within"),
}
METRIC_FIELDS = ("name", "threshold", "operator", "range", "firing_for")
METRIC_OPERATORS = ("<", "<=", ">", ">=")
MIN_METRIC_RANGE = 300.0  # seconds: Prefect refuses a shorter lookback
MIN_PROACTIVE_WITHIN = 10.0  # seconds: a proactive trigger needs a window

SPEC_DIGEST = "SPEC_DIGEST"  # the tag key that carries an automation's body digest
DURATION_HINT = "a duration in seconds (e.g. 300) or ISO 8601 (e.g. PT5M)"


# --------------------------------------------------------------------------- config


def static_triggers(value: Any, path: Path) -> list[dict[str, Any]]:
    """The `triggers:` of one static-config entry, checked and completed.

    Each item becomes `{name, description, enabled, parameters, job_variables,
    schedule_after, trigger}` where `trigger` is the body Prefect stores: the
    same for the SDK's mapping form and for Prefect's list form. Errors carry
    the YAML path of the offending key.
    """
    if value is None:
        return []
    if isinstance(value, Mapping):  # the SDK: {TriggerClass: {arguments}}
        items = []
        for class_name, arguments in value.items():
            kind = SDK_TRIGGER_CLASSES.get(str(class_name))
            if kind is None:
                raise ConfigError(
                    f"unknown trigger class {class_name!r}{did_you_mean(str(class_name), SDK_TRIGGER_CLASSES)}"
                    f" (known: {', '.join(SDK_TRIGGER_CLASSES)})", (*path, class_name))
            arguments = {} if arguments is None else arguments
            if not isinstance(arguments, Mapping):
                raise ConfigError(f"the arguments of {class_name} must be a mapping, got "
                                  f"{type(arguments).__name__}", (*path, class_name))
            if "type" in arguments and arguments["type"] != kind:
                raise ConfigError(f"{class_name} is a {kind!r} trigger, not {arguments['type']!r}",
                                  (*path, class_name, "type"))
            items.append(_deployment_trigger({**arguments, "type": kind}, (*path, class_name)))
        return items
    if isinstance(value, list):
        return [_deployment_trigger(item, (*path, index)) for index, item in enumerate(value)]
    raise ConfigError("expected a list of triggers or a mapping of trigger class -> arguments, got "
                      f"{type(value).__name__}", path)


def _deployment_trigger(item: Any, path: Path) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"expected a trigger (a mapping), got {type(item).__name__}", path)
    own = {k: v for k, v in item.items() if k in DEPLOYMENT_FIELDS}
    name = own.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError("name must be non-empty text", (*path, "name"))
    description = own.get("description", "")
    if not isinstance(description, str):
        raise ConfigError("description must be text", (*path, "description"))
    enabled = own.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("enabled must be true or false", (*path, "enabled"))
    for key in ("parameters", "job_variables"):
        if own.get(key) is not None and not isinstance(own[key], Mapping):
            raise ConfigError(f"{key} must be a mapping", (*path, key))
    schedule_after = duration(own.get("schedule_after", 0), (*path, "schedule_after"))
    trigger = {k: v for k, v in item.items() if k not in DEPLOYMENT_FIELDS}
    return {
        "name": name,
        "description": description,
        "enabled": enabled,
        "parameters": json_like(own.get("parameters")),
        "job_variables": json_like(own.get("job_variables")),
        "schedule_after": schedule_after,
        "trigger": trigger_body(trigger, path, allowed_extra=DEPLOYMENT_FIELDS),
    }


def trigger_type(item: Mapping[str, Any]) -> str:
    """Prefect's rule when `type` is left out: metric posture, composites by their keys, else event."""
    if "type" in item:
        return str(item["type"])
    if item.get("posture") == "Metric":
        return "metric"
    if "triggers" in item:
        return "compound" if "require" in item else "sequence"
    return "event"


def trigger_body(item: Mapping[str, Any], path: Path, allowed_extra: Sequence[str] = ()) -> dict[str, Any]:
    """One trigger completed with Prefect's defaults, exactly as its client serializes it."""
    kind = trigger_type(item)
    if kind not in TRIGGER_FIELDS:
        raise ConfigError(f"unknown trigger type {kind!r}{did_you_mean(kind, TRIGGER_TYPES)} "
                          f"(known: {', '.join(TRIGGER_TYPES)})", (*path, "type"))
    fields = TRIGGER_FIELDS[kind]
    for key in item:
        if key not in fields:
            raise ConfigError(f"unknown field {key!r} for {'an' if kind == 'event' else 'a'} {kind} trigger"
                              f"{did_you_mean(str(key), (*fields, *allowed_extra))}", (*path, key))
    if kind == "event":
        return _event(item, path)
    if kind == "metric":
        return _metric(item, path)
    triggers = item.get("triggers")
    if not isinstance(triggers, list) or not triggers:
        raise ConfigError(f"a {kind} trigger needs a non-empty list of triggers", (*path, "triggers"))
    body: dict[str, Any] = {
        "type": kind,
        "triggers": [trigger_body(t, (*path, "triggers", i)) if isinstance(t, Mapping) else
                     _fail("expected a trigger (a mapping)", (*path, "triggers", i))
                     for i, t in enumerate(triggers)],
        "within": None if item.get("within") is None else duration(item["within"], (*path, "within")),
    }
    if kind == "compound":
        require = item.get("require")
        valid = require in ("any", "all") or (
            isinstance(require, int) and not isinstance(require, bool) and 1 <= require <= len(triggers))
        if not valid:
            raise ConfigError(f"require must be 'any', 'all' or a number from 1 to {len(triggers)}",
                              (*path, "require"))
        body["require"] = require
    return body


def _event(item: Mapping[str, Any], path: Path) -> dict[str, Any]:
    posture = item.get("posture", "Reactive")
    if posture not in ("Reactive", "Proactive"):
        raise ConfigError(f"posture of an event trigger must be Reactive or Proactive, not {posture!r}",
                          (*path, "posture"))
    threshold = item.get("threshold", 1)
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise ConfigError("threshold must be a whole number", (*path, "threshold"))
    within = duration(item.get("within", 0), (*path, "within"))
    if posture == "Proactive" and within < MIN_PROACTIVE_WITHIN:
        raise ConfigError(f"a Proactive trigger needs within of at least {MIN_PROACTIVE_WITHIN:g} seconds",
                          (*path, "within"))
    return {
        "type": "event",
        **_resources(item, path),
        "after": _labels(item, "after", path),
        "expect": _labels(item, "expect", path),
        "for_each": _labels(item, "for_each", path),
        "posture": posture,
        "threshold": threshold,
        "within": within,
    }


def _metric(item: Mapping[str, Any], path: Path) -> dict[str, Any]:
    if item.get("posture", "Metric") != "Metric":
        raise ConfigError("posture of a metric trigger must be Metric", (*path, "posture"))
    query = item.get("metric")
    where = (*path, "metric")
    if not isinstance(query, Mapping):
        raise ConfigError("a metric trigger needs metric: {name, threshold, operator}", where)
    for key in query:
        if key not in METRIC_FIELDS:
            raise ConfigError(f"unknown field {key!r} of metric{did_you_mean(str(key), METRIC_FIELDS)}",
                              (*where, key))
    for key in ("name", "threshold", "operator"):
        if key not in query:
            raise ConfigError(f"metric needs {key}", where)
    if not isinstance(query["name"], str) or not query["name"]:
        raise ConfigError("metric name must be text (e.g. lateness, duration, successes)", (*where, "name"))
    threshold = query["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ConfigError("metric threshold must be a number", (*where, "threshold"))
    if query["operator"] not in METRIC_OPERATORS:
        raise ConfigError(f"metric operator must be one of {', '.join(METRIC_OPERATORS)}", (*where, "operator"))
    lookback = duration(query.get("range", MIN_METRIC_RANGE), (*where, "range"))
    if lookback < MIN_METRIC_RANGE:
        raise ConfigError(f"metric range must be at least {MIN_METRIC_RANGE:g} seconds", (*where, "range"))
    return {
        "type": "metric",
        **_resources(item, path),
        "posture": "Metric",
        "metric": {
            "name": query["name"],
            "threshold": float(threshold),
            "operator": query["operator"],
            "range": lookback,
            "firing_for": duration(query.get("firing_for", MIN_METRIC_RANGE), (*where, "firing_for")),
        },
    }


def _resources(item: Mapping[str, Any], path: Path) -> dict[str, Any]:
    related = item.get("match_related", {})
    return {
        "match": _resource_spec(item.get("match", {}), (*path, "match")),
        "match_related": ([_resource_spec(r, (*path, "match_related", i)) for i, r in enumerate(related)]
                          if isinstance(related, list) else _resource_spec(related, (*path, "match_related"))),
    }


def _resource_spec(value: Any, path: Path) -> dict[str, Any]:
    """Resource labels: label -> a value or a list of values (`*` wildcards allowed)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError("expected a mapping of resource label -> value(s)", path)
    spec: dict[str, Any] = {}
    for label, wanted in value.items():
        if isinstance(wanted, str):
            spec[str(label)] = wanted
        elif isinstance(wanted, list) and all(isinstance(w, str) for w in wanted):
            spec[str(label)] = list(wanted)
        else:
            raise ConfigError(f"resource label {label!r} needs text or a list of text", (*path, label))
    return spec


def _labels(item: Mapping[str, Any], key: str, path: Path) -> list[str]:
    """A set of event names in Prefect, so order and repeats carry no meaning: sorted."""
    value = item.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of event names", (*path, key))
    return sorted(set(value))


_ISO_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


def duration(value: Any, path: Path) -> float:
    """Seconds, as Prefect serializes a timedelta; numbers or ISO 8601 (`PT5M`), never negative."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"expected {DURATION_HINT}, not negative or infinite", path)
        return float(value)
    if isinstance(value, str):
        match = _ISO_DURATION.match(value.strip())
        if match and value.strip() not in ("P", "PT") and not value.strip().endswith("T"):
            return sum(float(amount) * _UNIT_SECONDS[unit]
                       for unit, amount in match.groupdict().items() if amount is not None)
    raise ConfigError(f"expected {DURATION_HINT}, got {value!r}", path)


def _fail(message: str, path: Path) -> Any:
    raise ConfigError(message, path)


# --------------------------------------------------------------------------- plans


@attrs.frozen
class AutomationSpec:
    """One automation a deployment should own, before its deployment id is known."""

    name: str
    body: Mapping[str, Any]  # name, description, enabled, trigger, run-action fields
    digest: str


@attrs.frozen
class OwnedAutomation:
    """An automation as read from the server: owned by a deployment; `digest` None if not ours."""

    id: str
    name: str
    digest: str | None = None


@attrs.frozen
class AutomationWrite:
    """One request that makes a deployment's automations what its spec says."""

    action: str  # "create" | "update" | "delete"
    name: str
    automation_id: str | None = None  # update, delete
    spec: AutomationSpec | None = None  # create, update

    def describe(self) -> str:
        verb = {"create": "added", "update": "changed", "delete": "removed"}[self.action]
        return f"{self.name!r} {verb}"


def automations_for(deployment_name: str, triggers: Iterable[Mapping[str, Any]]) -> tuple[AutomationSpec, ...]:
    """The automations for a deployment's triggers; unnamed ones are named as Prefect names them."""
    specs = []
    for index, trigger in enumerate(triggers, start=1):
        name = trigger.get("name") or f"{deployment_name}__automation_{index}"
        body = {
            "name": name,
            "description": trigger.get("description", ""),
            "enabled": trigger.get("enabled", True),
            "trigger": trigger["trigger"],
            "parameters": trigger.get("parameters"),
            "job_variables": trigger.get("job_variables"),
            "schedule_after": trigger.get("schedule_after", 0.0),
        }
        specs.append(AutomationSpec(name=name, body=body, digest=body_digest(body)))
    return tuple(specs)


def body_digest(body: Mapping[str, Any]) -> str:
    """A short, stable hash of what an automation is (key order and containers ignored)."""
    canonical = json.dumps(json_like(body), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def automation_body(spec: AutomationSpec, deployment_id: str) -> dict[str, Any]:
    """The request body for an automation of `deployment_id`: what Prefect's client sends
    for a deployment trigger (`AutomationCore.model_dump(mode="json")`) plus our tags."""
    body = spec.body
    return {
        "name": spec.name,
        "description": body["description"],
        "enabled": body["enabled"],
        "tags": [make_tag(MANAGED_BY, MANAGED_BY_VALUE), make_tag(SPEC_DIGEST, spec.digest)],
        "trigger": json_like(body["trigger"]),
        "actions": [{
            "type": "run-deployment",
            "source": "selected",
            "deployment_id": deployment_id,
            "parameters": json_like(body["parameters"]),
            "job_variables": json_like(body["job_variables"]),
            "schedule_after": body["schedule_after"],
        }],
        "actions_on_trigger": [],
        "actions_on_resolve": [],
        "owner_resource": owner_resource(deployment_id),
    }


def owner_resource(deployment_id: str) -> str:
    """How Prefect marks an automation as belonging to a deployment."""
    return f"prefect.deployment.{deployment_id}"


@attrs.frozen
class SeenAutomation:
    """An automation as the server lists it: the API does not say who owns it, so
    ownership is inferred from what it runs, its tags and its name (`owned_by`)."""

    id: str
    name: str
    tags: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()  # the ids of the deployments it runs


def _numbered(name: str, prefix: str) -> bool:
    """`name` is `prefix` and a number: a string test, as this runs once per deployment
    on every plan (compiling a pattern per deployment cost more than the plan itself)."""
    return name.startswith(prefix) and name[len(prefix):].isdecimal()


def owned_by(deployment_id: str, deployment_name: str,
             seen: Iterable[SeenAutomation]) -> tuple[OwnedAutomation, ...]:
    """The automations a deployment's triggers made: ours (tagged with their digest), or
    ones Prefect's own deploy made for it (the seed SDK's), which Prefect names
    `<deployment>__automation_<n>`. An automation someone made by hand that runs the
    deployment is neither, and is never touched."""
    prefix = f"{deployment_name}__automation_"
    owned = []
    for automation in seen:
        if automation.runs != (deployment_id,):
            continue
        ours = tag_value(automation.tags, MANAGED_BY) == MANAGED_BY_VALUE
        digest = tag_value(automation.tags, SPEC_DIGEST) if ours else None
        if digest is not None or _numbered(automation.name, prefix):
            owned.append(OwnedAutomation(automation.id, automation.name, digest))
    return tuple(owned)


def automation_writes(
    desired: Sequence[AutomationSpec], current: Sequence[OwnedAutomation]
) -> tuple[AutomationWrite, ...]:
    """The fewest requests from `current` to `desired`.

    An automation whose digest is wanted stays untouched. The others pair up by
    name: a wanted name that exists is updated in place (its id, and so its
    links in the UI, stay); the rest are created or deleted.
    """
    wanted = list(desired)
    left = []
    for automation in current:
        match = next((s for s in wanted if automation.digest is not None and s.digest == automation.digest), None)
        if match is not None:
            wanted.remove(match)
        else:
            left.append(automation)
    writes = []
    for spec in wanted:
        same_name = next((a for a in left if a.name == spec.name), None)
        if same_name is not None:
            left.remove(same_name)
            writes.append(AutomationWrite("update", spec.name, same_name.id, spec))
        else:
            writes.append(AutomationWrite("create", spec.name, spec=spec))
    writes += [AutomationWrite("delete", a.name, a.id) for a in left]
    return tuple(writes)


def cloud_only_problems(deployments: Iterable[tuple[str, Iterable[AutomationWrite]]]) -> list[str]:
    """Automations the open-source server refuses (metric triggers, also inside composites):
    found before the first write, instead of a 422 after the deployment was written."""
    problems = []
    for name, writes in deployments:
        for write in writes:
            if write.spec is not None and _has_metric(write.spec.body["trigger"]):
                problems.append(f"{name}: automation {write.name!r} has a metric trigger, which only "
                                "Prefect Cloud accepts; remove it from the static config for this server")
    return problems


def _has_metric(trigger: Mapping[str, Any]) -> bool:
    return trigger.get("type") == "metric" or any(_has_metric(t) for t in trigger.get("triggers") or ())


def owned_after(current: Sequence[OwnedAutomation], writes: Iterable[AutomationWrite],
                new_id: str = "") -> tuple[OwnedAutomation, ...]:
    """The automations a deployment owns once `writes` are applied (for fakes and laws)."""
    owned = {a.id: a for a in current}
    for index, write in enumerate(writes):
        if write.action == "delete" and write.automation_id is not None:
            owned.pop(write.automation_id, None)
        elif write.spec is not None:
            key = write.automation_id or f"{new_id}{index}"
            owned[key] = OwnedAutomation(key, write.spec.name, write.spec.digest)
    return tuple(owned.values())
