"""The DynamoDB tables, defined once.

The local stack creates them with boto3 from these specs and the CDK stateful
stack declares them from the same specs, so keys and TTL attributes cannot
drift between a laptop and the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.contract import Table


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table: logical name, string keys, TTL attribute and global indexes."""

    logical_name: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str = "expires_at"
    indexes: tuple[IndexSpec, ...] = field(default_factory=tuple)

    def key_attributes(self) -> list[str]:
        names = [self.partition_key]
        if self.sort_key:
            names.append(self.sort_key)
        for index in self.indexes:
            for name in (index.partition_key, index.sort_key):
                if name and name not in names:
                    names.append(name)
        return names

    def boto3_create_kwargs(self, physical_name: str) -> dict[str, Any]:
        """Arguments for ``dynamodb.create_table`` (on-demand billing)."""
        key_schema = [{"AttributeName": self.partition_key, "KeyType": "HASH"}]
        if self.sort_key:
            key_schema.append({"AttributeName": self.sort_key, "KeyType": "RANGE"})
        kwargs: dict[str, Any] = {
            "TableName": physical_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": key_schema,
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in self.key_attributes()],
        }
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
                    + ([{"AttributeName": index.sort_key, "KeyType": "RANGE"}] if index.sort_key else []),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ]
        return kwargs


# Key-verification cache: pk = HMAC(pepper, api key); entries expire after 4 h.
CACHE = TableSpec(logical_name=Table.CACHE.value, partition_key="pk")
# The verification cache's markers: pk = "keystate#<key id>" (auth.verification_cache).
# It held session records and refresh tokens until migration 0044 moved them to
# PostgreSQL; their items expire by TTL, and the by_key index they used is now idle.
SESSIONS = TableSpec(
    logical_name=Table.SESSIONS.value,
    partition_key="pk",
    indexes=(IndexSpec(name="by_key", partition_key="key_id", sort_key="pk"),),
)
# Rate-limit and quota counters: pk = "<customer>#<window>", sk = counter kind.
# (Its logical name is "metrics" for the deployed table's sake: see contract.Table.RATE_LIMITS.)
RATE_LIMITS = TableSpec(logical_name=Table.RATE_LIMITS.value, partition_key="pk", sort_key="sk")

ALL_TABLES: tuple[TableSpec, ...] = (CACHE, SESSIONS, RATE_LIMITS)
