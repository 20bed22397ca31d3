"""Runs INSIDE the Lambda-shaped process: stdlib only, started as ``python -I -S driver.py``.

``-I -S``: no site-packages, no PYTHONPATH, no script directory. The import
path becomes what Lambda gives a function: the unzipped package (the task
root) first, then the directory standing in for the runtime's own libraries
(``/var/runtime``: boto3 and botocore), then the standard library.

Protocol: argv = handler ("module.attribute") and the runtime-libraries
directory. One JSON line in on stdin per invocation ({"event", "context"}),
one JSON line out on the protocol pipe ({"result"} or Lambda's error shape).
The function's own stdout (its log lines) goes to stderr, like CloudWatch.
"""

import importlib
import json
import os
import secrets
import sys
import time
import traceback

started = time.perf_counter()
handler_name, runtime_dir = sys.argv[1], sys.argv[2]
task_root = os.environ["LAMBDA_TASK_ROOT"]
sys.path[:0] = [task_root]
sys.path.insert(1, runtime_dir)
os.chdir(task_root)

protocol = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)


def _send(message):
    protocol.write(json.dumps(message, default=str) + "\n")
    protocol.flush()


class LambdaContext:
    """The attributes Lambda's context object has (what Powertools and Chalice read)."""

    def __init__(self, request_id, deadline_ms):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(exc):
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-12:],
    }


try:
    module_name, _, attribute = handler_name.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
except Exception as exc:  # any init error is Runtime.ImportModuleError in Lambda: report it, exit
    _send({"ready": False, "error": _error(exc)})
    raise SystemExit(1) from exc
init_ms = (time.perf_counter() - started) * 1000
sdk = {name: importlib.import_module(name) for name in ("boto3", "botocore")}
_send(
    {
        "ready": True,
        "init_ms": init_ms,
        "modules": {name: module.__file__ for name, module in sdk.items()},
        "versions": {name: module.__version__ for name, module in sdk.items()},
        "sys_path": sys.path,
    }
)

for line in sys.stdin:
    message = json.loads(line)
    request_id = message.get("request_id") or secrets.token_hex(16)
    # What the runtime sets per invocation: a sampled trace header, so X-Ray's
    # facade segment is in play exactly as in Lambda.
    os.environ["_X_AMZN_TRACE_ID"] = (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=1"
    )
    context = LambdaContext(request_id, time.time() * 1000 + message.get("timeout_ms", 29000))
    try:
        result = handler(message["event"], context)
        _send({"result": result})
    except Exception as exc:  # noqa: BLE001 - as Lambda does: whatever the handler raises is the invocation's error
        _send({"error": _error(exc)})
