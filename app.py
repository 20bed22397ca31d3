#!/usr/bin/env python3
"""CDK entry point: build the two stacks for one environment (``-c env=dev|staging|prod``) and synthesize.

``cdk.json`` runs this file as it is (no ``make``, no ``PYTHONPATH``): the
stacks import the runtime's table specs and migration digest, so ``runtime/``
goes on the path here, *after* this directory (whose ``app.py`` is this file;
``stacks.constructs.api`` moves ``runtime/`` first just before Chalice imports
``runtime/app.py``). Chalice's packaging creates an AWS client, so a region
must be known: the environment's own region from cdk.json when none is set.
"""

import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
for _path in (str(_ROOT), str(_ROOT / "runtime")):
    if _path not in sys.path:
        sys.path.append(_path)
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402

from cdk_app.config import cdk_json_context, load_environment  # noqa: E402
from stacks.app import build  # noqa: E402

app = cdk.App(context=cdk_json_context())
config = load_environment(app.node)
os.environ.setdefault("AWS_DEFAULT_REGION", config.region)
build(app, config)
app.synth()
