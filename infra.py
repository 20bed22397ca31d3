"""CDK entry point: build the two stacks for one environment (``-c env=dev|staging|prod``) and synthesize.

``cdk.json`` runs this file as it is (no ``make``, no ``PYTHONPATH``). The
stacks import the runtime's contract, table specs and migration digest
(``chalicelib``), so ``runtime/`` goes on the path here: the one path entry
the infrastructure needs. Chalice's packaging creates an AWS client, so a
region must be known: the environment's own region from cdk.json when none
is set.
"""

import os
import sys
from pathlib import Path

_RUNTIME = str(Path(__file__).resolve().parent / "runtime")
if _RUNTIME not in sys.path:
    sys.path.append(_RUNTIME)
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402

from cdk_app.config import cdk_json_context, load_environment  # noqa: E402
from stacks.app import build  # noqa: E402

app = cdk.App(context=cdk_json_context())
config = load_environment(app.node)
os.environ.setdefault("AWS_DEFAULT_REGION", config.region)
build(app, config)
app.synth()
