"""Issue 11, item 10: ``.local/stack.json`` holds live API keys, so only its owner may read it; issue 13: what it names."""

from __future__ import annotations

import json
import os
import stat

from devstack.bootstrap import write_stack_info


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_i11_10_stack_json_is_written_0600(tmp_path):
    path = tmp_path / ".local" / "stack.json"
    old = os.umask(0o022)  # the usual umask: plain open() would make it 0644
    try:
        write_stack_info(path, {"api_url": "http://127.0.0.1:8000", "operator_api_key": "op_x"})
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert json.loads(path.read_text())["operator_api_key"] == "op_x"
    assert [p.name for p in path.parent.iterdir()] == ["stack.json"]  # no temporary file left behind


def test_i11_10_an_older_world_readable_stack_json_is_replaced_0600(tmp_path):
    path = tmp_path / "stack.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    write_stack_info(path, {"operator_api_key": "op_new"})
    assert _mode(path) == 0o600
    assert json.loads(path.read_text()) == {"operator_api_key": "op_new"}


def test_i11_10_make_run_writes_stack_json_through_it():
    import devstack.__main__ as entry

    assert entry.write_stack_info is write_stack_info


def test_i13_stack_json_names_the_local_aws_endpoint_beside_the_credentials():
    """Issue 13: ``aws_endpoint_url`` (the e-mails the stack sent are in its SES) and the demo owner's login."""
    from devstack.__main__ import stack_info

    credentials = {
        "operator_api_key": "op_x",
        "demo_customer_api_key": "sk_test_x",
        "demo_user_email": "owner@demo.local",
        "demo_user_password": "demo-owner-password",
    }
    info = stack_info("http://127.0.0.1:8000", "http://127.0.0.1:5000", credentials)
    assert info == {"api_url": "http://127.0.0.1:8000", "aws_endpoint_url": "http://127.0.0.1:5000", **credentials}


def test_i14_stack_json_names_the_local_stripe():
    """Issue 14: a card form needs localstripe's base URL (its Stripe.js is there too) and the publishable key."""
    from devstack.__main__ import stack_info

    info = stack_info(
        "http://127.0.0.1:8000",
        "http://127.0.0.1:5000",
        {"operator_api_key": "op_x"},
        stripe_api_base="http://127.0.0.1:8420",
        stripe_publishable_key="pk_test_local",
    )
    assert info["stripe_api_base"] == "http://127.0.0.1:8420"
    assert info["stripe_publishable_key"] == "pk_test_local"


def test_i14_the_local_stack_exports_its_stripe(stack):
    """The tests' stack runs its own localstripe, as make run does: the runtime is pointed at it."""
    import urllib.request

    from chalicelib.core.contract import LOCAL_STRIPE_PUBLISHABLE_KEY, Env

    assert stack.stripe is not None and stack.env[Env.STRIPE_API_BASE] == stack.stripe.api_base
    assert stack.env[Env.STRIPE_PUBLISHABLE_KEY] == LOCAL_STRIPE_PUBLISHABLE_KEY
    with urllib.request.urlopen(f"{stack.env[Env.STRIPE_API_BASE]}/js.stripe.com/v3/", timeout=5) as answer:
        assert answer.status == 200  # the fake Stripe.js a local card form loads
