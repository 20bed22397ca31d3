"""Lambda entry points for deploy-time operations (no routes).

``migrate`` is the on-event handler of a CloudFormation custom resource (CDK
Provider framework) whose ``MigrationsDigest`` property is the hash of the
migration files: changed migrations run on ``cdk deploy``, and an exception
here fails the deploy.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.contract import MIGRATE
from chalicelib.ops import service

bp = Blueprint(__name__)


# The stateless stack hands this function, by the contract's name, to the custom resource.
@bp.lambda_function(name=MIGRATE.name)
def migrate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return service.on_migrations_event(event)
