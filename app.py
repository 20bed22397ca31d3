#!/usr/bin/env python3
"""CDK entry point: build the two stacks for one environment (``-c env=dev|staging|prod``) and synthesize."""
import aws_cdk as cdk

from cdk_app.config import cdk_json_context, load_environment
from stacks.app import build

app = cdk.App(context=cdk_json_context())
build(app, load_environment(app.node))
app.synth()
