"""Per-environment configuration, read once from ``cdk.json`` context.

``cdk.json`` holds one block per environment under the ``saas:environments``
context key; ``-c env=NAME`` (``make synth ENV=NAME``) picks one. Everything a
construct needs arrives as a field of :class:`EnvironmentConfig` — no
construct calls ``try_get_context`` itself. Nothing here triggers a context
lookup: an existing VPC is imported from ids written in the config, and the
availability zones are spelled out, so ``cdk synth`` works offline.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

CONTEXT_KEY = "saas:environments"
ENV_CONTEXT_KEY = "env"
ENVIRONMENTS = ("dev", "staging", "prod")

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
_ACCOUNT = re.compile(r"^\d{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """The cdk.json context for an environment is missing or inconsistent."""


@dataclass(frozen=True, slots=True)
class ImportedVpc:
    """An existing VPC, imported by id without a lookup (the platform's VPCs already exist)."""

    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    private_subnet_route_table_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    """Everything that differs between dev, staging and prod."""

    name: str
    account: str | None
    region: str
    availability_zones: tuple[str, ...]
    vpc: ImportedVpc | None
    vpc_cidr: str
    aurora_engine_version: str
    aurora_min_acu: float
    aurora_max_acu: float
    backup_retention_days: int
    log_retention_days: int
    alarm_email: str
    ses_sender: str
    ses_identity: str
    removal_policy: Literal["retain", "destroy"]
    deletion_protection: bool
    jwt_secret_name: str
    pepper_secret_name: str
    jwt_issuer: str
    jwt_audience: str
    bcrypt_cost: int
    invoice_grace_days: int
    db_rotation_days: int
    api_throttle_rate: float
    api_throttle_burst: int
    api_p99_latency_ms: int
    api_5xx_rate_percent: float
    lambda_memory_mb: int
    job_timeout_seconds: int

    @property
    def stack_prefix(self) -> str:
        return f"Saas-{self.name}"

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"

    def __post_init__(self) -> None:
        problems = []
        if self.name not in ENVIRONMENTS:
            problems.append(f"unknown environment {self.name!r}")
        if self.account is not None and not _ACCOUNT.match(self.account):
            problems.append("account must be 12 digits or null")
        if len(self.availability_zones) < 2:
            problems.append("Aurora and RDS Proxy need at least two availability zones")
        if not 0.5 <= self.aurora_min_acu <= self.aurora_max_acu <= 256:
            problems.append("need 0.5 <= aurora_min_acu <= aurora_max_acu <= 256")
        if not 1 <= self.backup_retention_days <= 35:
            problems.append("backup_retention_days must be 1..35")
        for name in ("alarm_email", "ses_sender"):
            if not _EMAIL.match(getattr(self, name)):
                problems.append(f"{name} is not an e-mail address")
        if self.name == "prod" and (not self.retain_data or not self.deletion_protection):
            problems.append("prod must retain data and keep deletion protection on")
        if self.vpc is not None and len(self.vpc.private_subnet_ids) != len(self.availability_zones):
            problems.append("one private subnet per availability zone")
        if problems:
            raise ConfigError(f"environment {self.name!r}: " + "; ".join(problems))


def _from_context(name: str, raw: dict[str, Any]) -> EnvironmentConfig:
    known = {f.name for f in fields(EnvironmentConfig)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"environment {name!r}: unknown keys {sorted(unknown)}")
    values = dict(raw, name=name)
    vpc = values.get("vpc")
    values["vpc"] = (
        ImportedVpc(
            vpc_id=vpc["vpc_id"],
            private_subnet_ids=tuple(vpc["private_subnet_ids"]),
            private_subnet_route_table_ids=tuple(vpc["private_subnet_route_table_ids"]),
        )
        if vpc
        else None
    )
    values["availability_zones"] = tuple(values.get("availability_zones", ()))
    values.setdefault("account", None)
    missing = known - set(values)
    if missing:
        raise ConfigError(f"environment {name!r}: missing keys {sorted(missing)}")
    return EnvironmentConfig(**values)


def load_environment(node: Any, name: str | None = None) -> EnvironmentConfig:
    """Build the config for ``name`` (default: context ``env``, else ``dev``) from ``node``'s context.

    Parameters
    ----------
    node
        A construct node (``app.node``) whose context holds the ``saas:environments`` block.
    name
        The environment; ``None`` reads ``-c env=...``.
    """
    name = name or node.try_get_context(ENV_CONTEXT_KEY) or "dev"
    environments = node.try_get_context(CONTEXT_KEY) or {}
    if name not in environments:
        raise ConfigError(f"no environment {name!r} in cdk.json context {CONTEXT_KEY!r}")
    config = _from_context(name, environments[name])
    if config.account is None and os.environ.get("CDK_DEFAULT_ACCOUNT"):
        # `cdk deploy` with credentials fills this in; offline synth stays env-agnostic.
        config = replace(config, account=os.environ["CDK_DEFAULT_ACCOUNT"])
    return config


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of ``cdk.json``: defaults for ``cdk.App(context=...)``.

    The cdk CLI passes the same values (plus ``-c`` overrides, which win) in
    ``CDK_CONTEXT_JSON``; reading the file too lets ``python app.py`` and the
    tests synthesize without the CLI.
    """
    return json.loads(path.read_text(encoding="utf-8")).get("context", {})
