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
# The Lambda Python version every function runs (and the package is built for):
# one top-level key, the same for every environment.
PYTHON_CONTEXT_KEY = "saas:lambda_python_version"
# The selected environment's ``vpc`` block, given outside cdk.json (a JSON object,
# or a JSON string as ``-c`` passes it): how real network ids reach a synth
# without being committed. See docs/DEPLOYMENT.md (Network ids).
NETWORK_CONTEXT_KEY = "saas:network"
ENVIRONMENTS = ("dev", "staging", "prod")
# The marker committed in place of network ids a deployer must supply.
PLACEHOLDER_MARKER = "REPLACE_ME"
# Which VPC endpoints the stack needs; an imported VPC says, per endpoint,
# whether to create it or use the one it already has (docs/DEPLOYMENT.md).
# KMS: the API opens users' sealed TOTP secrets itself (auth.secret_box); its endpoint keeps that off the NAT.
ENDPOINTS = ("dynamodb", "secretsmanager", "email", "kms")
GATEWAY_ENDPOINTS = ("dynamodb",)
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_NETWORK_IDS = {
    "vpc_id": re.compile(r"^vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?$"),
    "private_subnet_ids": re.compile(r"^subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?$"),
    "private_subnet_route_table_ids": re.compile(r"^rtb-[0-9a-f]{8}(?:[0-9a-f]{9})?$"),
}
_PYTHON = re.compile(r"^3\.\d{1,2}$")

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
_ACCOUNT = re.compile(r"^\d{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The customer portal's base URL (e-mailed links): https, a host, no trailing slash.
_PORTAL_URL = re.compile(r"^https://[^/\s]+(?:/[^\s]*[^/\s])?$")
_STRIPE_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_[A-Za-z0-9]+$")


class ConfigError(ValueError):
    """The cdk.json context for an environment is missing or inconsistent."""


@dataclass(frozen=True, slots=True)
class ImportedVpc:
    """An existing VPC, imported by id without a lookup (the platform's VPCs already exist).

    ``endpoints`` maps each of :data:`ENDPOINTS` to ``True`` (this stack creates
    the endpoint) or to what already exists: ``False`` for the DynamoDB gateway
    endpoint (already routed in those route tables), or the ``sg-…`` security
    group of an existing interface endpoint (the stack lets its groups reach it).
    """

    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    private_subnet_route_table_ids: tuple[str, ...]
    endpoints: tuple[tuple[str, bool | str], ...] = tuple((name, True) for name in ENDPOINTS)

    def endpoint(self, name: str) -> bool | str:
        """``True`` to create ``name``'s endpoint, else what exists (``False`` or a security group id)."""
        return dict(self.endpoints)[name]

    def placeholders(self) -> list[str]:
        """The keys (``vpc.vpc_id``, ``vpc.private_subnet_ids[0]``…) still holding the placeholder marker."""
        found = []
        for key in _NETWORK_IDS:
            value = getattr(self, key)
            for index, item in enumerate((value,) if isinstance(value, str) else value):
                if PLACEHOLDER_MARKER in item:
                    found.append(f"vpc.{key}" if isinstance(value, str) else f"vpc.{key}[{index}]")
        for name, value in self.endpoints:
            if isinstance(value, str) and PLACEHOLDER_MARKER in value:
                found.append(f"vpc.endpoints.{name}")
        return found

    def problems(self) -> list[str]:
        """Malformed ids and endpoint switches (placeholders are reported by :meth:`placeholders`)."""
        problems: list[str] = []
        for key, pattern in _NETWORK_IDS.items():
            value = getattr(self, key)
            kind = pattern.pattern[1 : pattern.pattern.index("-")]
            problems.extend(
                f"vpc.{key}: {item!r} is not a {kind} id"
                for item in ((value,) if isinstance(value, str) else value)
                if PLACEHOLDER_MARKER not in item and not pattern.match(item)
            )
        names = [name for name, _ in self.endpoints]
        if sorted(names) != sorted(ENDPOINTS):
            problems.append(f"vpc.endpoints must give exactly {list(ENDPOINTS)}, got {sorted(names)}")
        for name, value in self.endpoints:
            if name in GATEWAY_ENDPOINTS:
                if not isinstance(value, bool):
                    problems.append(f"vpc.endpoints.{name} must be true (create) or false (already routed)")
            elif value is not True and not (
                isinstance(value, str) and (PLACEHOLDER_MARKER in value or _SECURITY_GROUP.match(value))
            ):
                problems.append(
                    f"vpc.endpoints.{name} must be true (create) or the existing endpoint's security group id"
                )
        return problems


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    """Everything that differs between dev, staging and prod."""

    name: str
    account: str | None
    region: str
    availability_zones: tuple[str, ...]
    vpc: ImportedVpc | None
    vpc_cidr: str
    # NAT gateways of a created VPC (the functions' way to Stripe and webhooks); unused when vpc is imported.
    nat_gateways: int
    aurora_engine_version: str
    aurora_min_acu: float
    aurora_max_acu: float
    backup_retention_days: int
    log_retention_days: int
    alarm_email: str
    ses_sender: str
    ses_identity: str
    portal_url: str
    # The issuer printed on invoice PDFs: a name and the postal address's lines.
    platform_name: str
    platform_address: tuple[str, ...]
    removal_policy: Literal["retain", "destroy"]
    deletion_protection: bool
    jwt_secret_name: str
    pepper_secret_name: str
    # Stripe (payments): the secret key's and the webhook signing secret's Secrets Manager names (CDK
    # creates both; their values are set after deploy) and the publishable key ("" until there is one).
    stripe_secret_name: str
    stripe_webhook_secret_name: str
    stripe_publishable_key: str
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
    # From the top-level "saas:lambda_python_version" key, not the environment block.
    lambda_python_version: str

    @property
    def stack_prefix(self) -> str:
        return f"Saas-{self.name}"

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"

    @property
    def lambda_runtime(self) -> str:
        """The Lambda runtime identifier, e.g. ``python3.12``."""
        return f"python{self.lambda_python_version}"

    def placeholders(self) -> list[str]:
        """Keys that still hold the committed placeholder marker (nothing to deploy to yet)."""
        return self.vpc.placeholders() if self.vpc is not None else []

    def require_deployable(self) -> None:
        """Refuse to synthesize an environment whose network ids are still placeholders."""
        keys = self.placeholders()
        if keys:
            raise ConfigError(
                f"environment {self.name!r}: network ids are placeholders ({PLACEHOLDER_MARKER}); set "
                + ", ".join(f"{CONTEXT_KEY}.{self.name}.{key}" for key in keys)
                + f" in cdk.json, or pass the whole vpc block as context {NETWORK_CONTEXT_KEY!r} "
                "(make synth ENV=... NETWORK=network.json); see docs/DEPLOYMENT.md, 'Network ids'"
            )

    def __post_init__(self) -> None:
        problems: list[str] = []
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
        problems.extend(
            f"{name} is not an e-mail address"
            for name in ("alarm_email", "ses_sender")
            if not _EMAIL.match(getattr(self, name))
        )
        if not _PORTAL_URL.match(self.portal_url):
            problems.append("portal_url must be an https URL without a trailing slash")
        if not 1 <= len(self.platform_name.strip()) <= 100:
            problems.append("platform_name must be 1 to 100 characters")
        if not 1 <= len(self.platform_address) <= 6 or any(
            not isinstance(line, str) or not line.strip() or len(line) > 100 or "\n" in line
            for line in self.platform_address
        ):
            problems.append("platform_address must be 1 to 6 non-empty lines of at most 100 characters")
        if self.stripe_publishable_key and not _STRIPE_PUBLISHABLE_KEY.match(self.stripe_publishable_key):
            problems.append("stripe_publishable_key must be a pk_test_/pk_live_ key, or empty until there is one")
        if self.name == "prod" and (not self.retain_data or not self.deletion_protection):
            problems.append("prod must retain data and keep deletion protection on")
        zones = len(self.availability_zones)
        if type(self.nat_gateways) is not int or not 1 <= self.nat_gateways <= zones:
            problems.append("nat_gateways must be 1 to the number of availability_zones")
        elif self.name == "prod" and self.nat_gateways != zones:
            problems.append("prod needs one NAT gateway per availability zone (nat_gateways)")
        if self.vpc is not None and len(self.vpc.private_subnet_ids) != zones:
            problems.append("one private subnet per availability zone")
        if self.vpc is not None:
            problems += self.vpc.problems()
        if not _PYTHON.match(self.lambda_python_version):
            problems.append(f"{PYTHON_CONTEXT_KEY} must look like '3.12'")
        if problems:
            raise ConfigError(f"environment {self.name!r}: " + "; ".join(problems))


_VPC_KEYS = {"vpc_id", "private_subnet_ids", "private_subnet_route_table_ids", "endpoints"}


def _vpc(name: str, vpc: Any) -> ImportedVpc | None:
    if not vpc:
        return None
    if isinstance(vpc, str):  # `-c saas:network=...` arrives as a string
        try:
            vpc = json.loads(vpc)
        except ValueError as error:
            raise ConfigError(f"environment {name!r}: {NETWORK_CONTEXT_KEY} is not JSON ({error})") from None
    if not isinstance(vpc, dict):
        raise ConfigError(f"environment {name!r}: vpc must be an object or null")
    unknown, missing = set(vpc) - _VPC_KEYS, _VPC_KEYS - {"endpoints"} - set(vpc)
    if unknown or missing:
        raise ConfigError(f"environment {name!r}: vpc has unknown keys {sorted(unknown)} / lacks {sorted(missing)}")
    endpoints = vpc.get("endpoints", dict.fromkeys(ENDPOINTS, True))
    if not isinstance(endpoints, dict):
        raise ConfigError(f"environment {name!r}: vpc.endpoints must be an object")
    return ImportedVpc(
        vpc_id=vpc["vpc_id"],
        private_subnet_ids=tuple(vpc["private_subnet_ids"]),
        private_subnet_route_table_ids=tuple(vpc["private_subnet_route_table_ids"]),
        endpoints=tuple(sorted(endpoints.items())),
    )


def _from_context(name: str, raw: dict[str, Any], *, network: Any, python_version: str) -> EnvironmentConfig:
    known = {f.name for f in fields(EnvironmentConfig)}
    unknown = set(raw) - (known - {"lambda_python_version"})
    if unknown:
        raise ConfigError(f"environment {name!r}: unknown keys {sorted(unknown)}")
    values = dict(raw, name=name)
    values["vpc"] = _vpc(name, network if network is not None else values.get("vpc"))
    values["availability_zones"] = tuple(values.get("availability_zones", ()))
    if isinstance(values.get("platform_address"), list):
        values["platform_address"] = tuple(values["platform_address"])
    values.setdefault("account", None)
    values["lambda_python_version"] = str(python_version)
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
    python_version = node.try_get_context(PYTHON_CONTEXT_KEY)
    if python_version is None:
        raise ConfigError(f'cdk.json context must pin {PYTHON_CONTEXT_KEY!r} (e.g. "3.12")')
    config = _from_context(
        name, environments[name], network=node.try_get_context(NETWORK_CONTEXT_KEY), python_version=python_version
    )
    if config.account is None and os.environ.get("CDK_DEFAULT_ACCOUNT"):
        # `cdk deploy` with credentials fills this in; offline synth stays env-agnostic.
        config = replace(config, account=os.environ["CDK_DEFAULT_ACCOUNT"])
    return config


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of ``cdk.json``: defaults for ``cdk.App(context=...)``.

    The cdk CLI passes the same values (plus ``-c`` overrides, which win) in
    ``CDK_CONTEXT_JSON``; reading the file too lets ``python infra.py`` and the
    tests synthesize without the CLI.
    """
    return json.loads(path.read_text(encoding="utf-8")).get("context", {})
