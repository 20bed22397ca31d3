"""Typed, per-environment configuration for the CDK app."""

from cdk_app.config import EnvironmentConfig, ImportedVpc, load_environment

__all__ = ["EnvironmentConfig", "ImportedVpc", "load_environment"]
