"""The Lambda-shaped harness: the artifact ``cdk deploy`` uploads, run the way Lambda runs it.

1. **Package**: the CDK app is synthesized for ``dev`` with the command in
   ``cdk.json`` (no ``PYTHONPATH``: what a deployer runs), so ``chalice.cdk``
   packages ``runtime/`` exactly as for a deploy. The zip asset the functions'
   ``CodeUri`` names is unzipped into a task root.
2. **Runtime**: each function runs in a fresh interpreter of the version the
   template's ``Runtime`` names, started ``-I -S`` (no site-packages, no
   ``runtime/`` source), with the task root first on the path and then only
   what the Lambda runtime provides (``lambda-runtime-provided.txt``).
3. **Environment**: the function's variables *as the template sets them*;
   only values that are CloudFormation tokens (table names, the proxy
   endpoint, the app-user secret ARN) are resolved to their local stand-ins.
   Plus Lambda's own variables and a sampled ``_X_AMZN_TRACE_ID`` per call.
4. **Stand-ins for AWS**: moto (DynamoDB, Secrets Manager, SES) provisioned
   under the template's names; PostgreSQL behind a PgBouncer that, like RDS
   Proxy, terminates TLS (a CA of our own, verified ``verify-full`` against
   ``localhost``) and accepts the IAM token the runtime signs as a password.
5. **API Gateway**: an HTTP server that turns each request into the REST API
   proxy event (v1, multi-value headers, base64 bodies for binary types),
   routed with the template's own OpenAPI definition, and renders the
   template's gateway responses for what API Gateway answers itself.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fnmatch
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg import sql

from chalicelib.core import contract
from chalicelib.core.contract import Env, Table
from devstack import package_cache

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DRIVER = HERE / "lambda_driver.py"
RUNTIME_PROVIDED = HERE / "lambda-runtime-provided.txt"
ENVIRONMENT = "dev"
API_FUNCTION = contract.API_HANDLER
API_TIMEOUT_MS = 29_000


# ------------------------------------------------------------------ package
@dataclass
class Package:
    task_root: Path
    template: dict
    functions: dict[str, dict]  # logical id -> Properties
    runtime: str  # e.g. "python3.12"
    synth_seconds: float  # of the synth that made it, even when reused from devstack.package_cache
    cached: bool = False

    @property
    def api_definition(self) -> dict:
        apis = [r for r in self.template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
        assert len(apis) == 1, "expected one SAM API"
        return apis[0]["Properties"]["DefinitionBody"]

    def gateway_responses(self) -> dict[str, dict]:
        """Response type -> {StatusCode, ResponseParameters, ResponseTemplates}: from the API definition's
        ``x-amazon-apigateway-gateway-responses`` and from any ``AWS::ApiGateway::GatewayResponse``."""
        found = {
            r["Properties"]["ResponseType"]: r["Properties"]
            for r in self.template["Resources"].values()
            if r["Type"] == "AWS::ApiGateway::GatewayResponse"
        }
        for kind, spec in self.api_definition.get("x-amazon-apigateway-gateway-responses", {}).items():
            found[kind] = {
                "StatusCode": spec.get("statusCode"),
                "ResponseParameters": spec.get("responseParameters"),
                "ResponseTemplates": spec.get("responseTemplates"),
            }
        return found

    def scheduled(self) -> dict[str, dict]:
        return {
            name: props
            for name, props in self.functions.items()
            if any(e.get("Type") == "Schedule" for e in (props.get("Events") or {}).values())
        }


def build_package(workdir: Path, source: Path = REPO) -> Package:
    """Synthesize the CDK app as ``cdk synth`` would run it and unzip the functions' code asset.

    ``source``: the checkout to synthesize (``LAMBDA_HARNESS_SOURCE`` in the
    conftest; this repository by default). A synth of the same inputs made
    earlier (``devstack.package_cache``: tests/lambda_harness, then the bench's
    cold start) is reused; ``Package.cached`` says so.
    """
    key = package_cache.input_key(source, ENVIRONMENT)
    hit = package_cache.load(source, key)
    if hit is None:
        outdir = workdir / "cdk.out"
        synth_seconds = _synth(source, outdir)
        if package_cache.input_key(source, ENVIRONMENT) == key:  # nothing changed under the synth
            outdir = package_cache.store(source, key, outdir, package_files(outdir), synth_seconds)
    else:
        outdir, synth_seconds = hit
    (template_path,) = outdir.glob("*-Stateless.template.json")
    template = json.loads(template_path.read_text())
    functions = {
        name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    task_root = workdir / "task"
    with zipfile.ZipFile(outdir / _code_asset(outdir, functions)) as archive:
        archive.extractall(task_root)  # fresh every time: no bytecode left by an earlier use
    runtimes = {props["Runtime"] for props in functions.values()}
    assert len(runtimes) == 1, f"functions disagree on the runtime: {runtimes}"
    return Package(task_root, template, functions, runtimes.pop(), synth_seconds, cached=hit is not None)


def _synth(source: Path, outdir: Path) -> float:
    """cdk.json's command for ``ENVIRONMENT`` into ``outdir`` (no ``PYTHONPATH``); its seconds."""
    command = json.loads((source / "cdk.json").read_text())["app"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {
        "CDK_CONTEXT_JSON": json.dumps({"env": ENVIRONMENT}),
        "CDK_OUTDIR": str(outdir),
        "AWS_DEFAULT_REGION": "us-east-1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    started = time.monotonic()
    result = subprocess.run(
        command, shell=True, cwd=source, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"synth failed ({command}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return time.monotonic() - started


def _code_asset(outdir: Path, functions: dict[str, dict]) -> str:
    """The path (in ``outdir``) of the one zip every function's ``CodeUri`` names."""
    keys = {props["CodeUri"]["Key"] for props in functions.values()}
    assert len(keys) == 1, f"expected one code asset for every function, got {keys}"
    assets = json.loads(next(outdir.glob("*-Stateless.assets.json")).read_text())["files"]
    path: str = assets[keys.pop().removesuffix(".zip")]["source"]["path"]
    return path


def package_files(outdir: Path) -> list[str]:
    """What :func:`build_package` reads of a synth: the stateless template, its assets manifest, the code zip."""
    (template_path,) = outdir.glob("*-Stateless.template.json")
    (assets_path,) = outdir.glob("*-Stateless.assets.json")
    template = json.loads(template_path.read_text())
    functions = {
        name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    return [template_path.name, assets_path.name, _code_asset(outdir, functions)]


def find_interpreter(runtime: str) -> str:
    """An interpreter of the Lambda runtime's version (``python3.12`` → 3.12), or a clear failure."""
    version = runtime.removeprefix("python")
    candidates = [shutil.which(f"python{version}"), f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in pyenv_root.glob(f"versions/{version}*/bin/python{version}"))
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,  # a candidate that fails to run is skipped, not an error
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    raise RuntimeError(
        f"the Lambda runtime is {runtime} and no python{version} interpreter was found (PATH, /usr/bin, pyenv); "
        f"install Python {version} to run the packaged artifact as Lambda would"
    )


def runtime_libraries(python: str, runtime: str) -> Path:
    """Install what the Lambda runtime provides (lambda-runtime-provided.txt) once, in a directory of its own.

    ``python`` is :func:`find_interpreter`'s answer for ``runtime`` (e.g. ``python3.12``).
    """
    spec = RUNTIME_PROVIDED.read_text()
    version = runtime.removeprefix("python")
    target = REPO / ".local" / "lambda-runtime" / f"{version}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(target),
                "-r",
                str(RUNTIME_PROVIDED),
            ],
            check=True,
            timeout=600,
        )
        (target / ".complete").touch()
    return target


# ------------------------------------------------------------- TLS and proxy
def make_tls(workdir: Path) -> tuple[Path, Path, Path]:
    """A CA of our own and a server certificate for ``localhost``/127.0.0.1: (ca, cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lambda harness test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = workdir / "ca.pem", workdir / "server.pem", workdir / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths[2].chmod(0o600)
    return paths


class TlsProxy:
    """PgBouncer standing in for RDS Proxy: TLS required from clients, any password (the IAM token) accepted.

    The master login (migrations take a session advisory lock) gets a session
    pool, as RDS Proxy would pin it; the app login is multiplexed per transaction.
    """

    def __init__(self, workdir: Path, pg_port: int, users: list[str], master: str) -> None:
        from devstack.postgres import free_port

        workdir.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.path.exists(binary):
            raise RuntimeError("pgbouncer is not installed (make test installs it): it stands in for RDS Proxy")
        self.workdir = workdir
        self.port = free_port()
        self.ca, cert, key = make_tls(workdir)
        (workdir / "users.txt").write_text("".join(f'"{user}" ""\n' for user in users))
        (workdir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={pg_port}\n"
            "[users]\n"
            f"{master} = pool_mode=session\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            "auth_type = trust\n"
            f"auth_file = {workdir}/users.txt\n"
            "pool_mode = transaction\n"
            "default_pool_size = 4\nmax_client_conn = 200\n"
            f"client_tls_sslmode = require\nclient_tls_cert_file = {cert}\nclient_tls_key_file = {key}\n"
            f"logfile = {workdir}/pgbouncer.log\n"
            "unix_socket_dir =\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        run_as = None
        if os.geteuid() == 0:
            run_as = "embedded_postgres"
            for path in [workdir, *workdir.iterdir()]:
                shutil.chown(path, run_as)
        self.process = subprocess.Popen(
            [binary, str(workdir / "pgbouncer.ini")], user=run_as, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    log = workdir / "pgbouncer.log"
                    raise RuntimeError(f"pgbouncer did not start: {log.read_text() if log.exists() else ''}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


# ------------------------------------------------------------------- AWS side
@dataclass
class Cloud:
    """The local stand-ins and the values that resolve the template's tokens."""

    aws_endpoint: str
    resolved: dict[str, str]  # env var name -> local value, for token-valued variables
    xray_port: int
    extra: dict[str, str] = field(default_factory=dict)


def lambda_environment(package: Package, logical_id: str, cloud: Cloud) -> dict[str, str]:
    """Lambda's environment for one function: its template variables, tokens resolved, plus the runtime's own."""
    props = package.functions[logical_id]
    variables = props.get("Environment", {}).get("Variables", {})
    env: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, str):
            env[name] = value
        elif name in cloud.resolved:
            env[name] = cloud.resolved[name]
        else:
            raise AssertionError(f"{logical_id}: {name} is a CloudFormation token the harness cannot resolve: {value}")
    name = f"saas-{ENVIRONMENT}-{logical_id}"
    env |= {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/30/[$LATEST]harness",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{package.runtime}",
        "LAMBDA_TASK_ROOT": str(package.task_root),
        "LAMBDA_RUNTIME_DIR": str(package.task_root),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIAHARNESS",
        "AWS_SECRET_ACCESS_KEY": "harness",
        "AWS_SESSION_TOKEN": "harness",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{cloud.xray_port}",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": str(cloud.xray_port),
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(package.task_root.parent),
        # The local endpoint for every AWS call (the one thing a real function lacks).
        "AWS_ENDPOINT_URL": cloud.aws_endpoint,
    }
    env |= cloud.extra
    return env


class XrayDaemon:
    """A UDP socket where the X-Ray daemon would listen: counts the segment documents the SDK emits."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.documents: list[dict] = []
        self._thread = threading.Thread(target=self._serve, daemon=True, name="xray-daemon")
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data = self.socket.recv(65535)
            except OSError:
                return
            _, _, body = data.partition(b"\n")
            with contextlib.suppress(ValueError):  # the daemon keeps only segment documents, as X-Ray's would
                self.documents.append(json.loads(body))

    def stop(self) -> None:
        self.socket.close()


# ------------------------------------------------------------ the functions
class Worker:
    """One Lambda execution environment: a process that imported the handler and takes one event at a time."""

    def __init__(self, python: str, runtime_dir: Path, handler: str, env: dict[str, str], log_path: Path) -> None:
        started = time.perf_counter()
        read_fd, write_fd = os.pipe()
        self._log = open(log_path, "ab")  # noqa: SIM115 - the worker's stderr for its whole life; stop() closes it
        self.process = subprocess.Popen(
            [python, "-I", "-S", str(DRIVER), handler, str(runtime_dir)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=write_fd,
            stderr=self._log,
            cwd=env["LAMBDA_TASK_ROOT"],
        )
        os.close(write_fd)
        assert self.process.stdin is not None  # stdin=PIPE
        self._in = self.process.stdin
        self._out = os.fdopen(read_fd, "r")
        ready = self._read()
        if not ready.get("ready"):
            raise RuntimeError(f"{handler} did not initialise: {ready.get('error')}\n{log_path.read_text()[-4000:]}")
        self.ready = ready
        self.spawn_ms = (time.perf_counter() - started) * 1000
        self.lock = threading.Lock()

    def _read(self) -> dict:
        line = self._out.readline()
        if not line:
            raise RuntimeError(f"the function process exited ({self.process.poll()})")
        return json.loads(line)

    def invoke(self, event: dict, *, timeout_ms: int = API_TIMEOUT_MS) -> dict:
        with self.lock:
            self._in.write(
                (
                    json.dumps({"event": event, "timeout_ms": timeout_ms, "request_id": str(uuid.uuid4())}) + "\n"
                ).encode()
            )
            self._in.flush()
            return self._read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self._in.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._out.close()
        self._log.close()


class Functions:
    """Execution environments per function, created on first use (API: a small pool, as Lambda scales out)."""

    def __init__(
        self, package: Package, cloud: Cloud, python: str, runtime_dir: Path, logs: Path, api_concurrency: int = 2
    ) -> None:
        self.package, self.cloud, self.python, self.runtime_dir, self.logs = package, cloud, python, runtime_dir, logs
        self._idle: dict[str, queue.SimpleQueue] = {}
        self._count: dict[str, int] = {}
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self.api_concurrency = api_concurrency

    def spawn(self, logical_id: str) -> Worker:
        props = self.package.functions[logical_id]
        worker = Worker(
            self.python,
            self.runtime_dir,
            props["Handler"],
            lambda_environment(self.package, logical_id, self.cloud),
            self.logs / f"{logical_id}.log",
        )
        with self._lock:
            self._all.append(worker)
        return worker

    def _acquire(self, logical_id: str) -> Worker:
        with self._lock:
            idle = self._idle.setdefault(logical_id, queue.SimpleQueue())
            limit = self.api_concurrency if logical_id == API_FUNCTION else 1
            grow = idle.empty() and self._count.get(logical_id, 0) < limit
            if grow:
                self._count[logical_id] = self._count.get(logical_id, 0) + 1
        return self.spawn(logical_id) if grow else idle.get()

    def invoke(self, logical_id: str, event: dict, *, timeout_ms: int | None = None) -> dict:
        worker = self._acquire(logical_id)
        try:
            timeout = timeout_ms or int(self.package.functions[logical_id].get("Timeout", 29)) * 1000
            return worker.invoke(event, timeout_ms=timeout)
        finally:
            self._idle[logical_id].put(worker)

    def stop(self) -> None:
        for worker in self._all:
            worker.stop()


# ------------------------------------------------------------- API Gateway
def scheduled_event(rule_name: str) -> dict:
    """What EventBridge sends a function on a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule_name}"],
        "detail": {},
    }


def custom_resource_event(request_type: str, properties: dict, physical_id: str | None = None) -> dict:
    """What the CDK Provider framework's onEvent handler receives from CloudFormation."""
    event = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider-framework-onEvent",
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/harness",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Saas-dev-Stateless/harness",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "MigrationsA1B2C3D4",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:…", **properties},
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


@dataclass
class Route:
    template: str
    pattern: re.Pattern
    methods: set[str]
    literal_segments: int


def _routes(definition: dict) -> list[Route]:
    routes = []
    for path, item in definition["paths"].items():
        regex = (
            "^"
            + re.sub(
                r"\\{([A-Za-z0-9_]+)\\\+\\}",
                r"(?P<\1>.+)",
                re.sub(r"\\{([A-Za-z0-9_]+)\\}", r"(?P<\1>[^/]+)", re.escape(path)),
            )
            + "$"
        )
        methods = {m.upper() for m in item if m != "parameters"}
        routes.append(Route(path, re.compile(regex), methods, sum(1 for s in path.split("/") if "{" not in s)))
    # API Gateway prefers the most specific resource: more literal segments first.
    return sorted(routes, key=lambda r: -r.literal_segments)


class ApiGateway:
    """HTTP in, REST API proxy event (payload v1) to the packaged handler, the proxy response back out."""

    def __init__(self, package: Package, functions: Functions, stage: str = "api") -> None:
        self.package, self.functions, self.stage = package, functions, stage
        definition = package.api_definition
        self.routes = _routes(definition)
        self.binary_types = definition.get("x-amazon-apigateway-binary-media-types", [])
        self.gateway_responses = package.gateway_responses()
        self.statuses: list[int] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="api-gateway")
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def match(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and (method in route.methods or "X-AMAZON-APIGATEWAY-ANY-METHOD" in route.methods):
                return route, found.groupdict()
        return None

    def _is_binary(self, content_type: str | None) -> bool:
        media = (content_type or "").split(";")[0].strip().lower()
        return bool(media) and any(fnmatch.fnmatch(media, pattern.lower()) for pattern in self.binary_types)

    def event(
        self,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        route: Route,
        path_parameters: dict[str, str],
    ) -> dict:
        split = urlsplit(raw_path)
        query = parse_qsl(split.query, keep_blank_values=True)
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        request_id = str(uuid.uuid4())
        content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
        binary = self._is_binary(content_type)
        payload: str | None
        if body and binary:
            payload, encoded = base64.b64encode(body).decode(), True
        else:
            payload, encoded = (body.decode("utf-8", errors="replace") if body else None), False
        return {
            "resource": route.template,
            "path": split.path,
            "httpMethod": method,
            "headers": {n: v[-1] for n, v in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {n: v[-1] for n, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "harness",
                "resourcePath": route.template,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "path": f"/{self.stage}{split.path}",
                "accountId": "123456789012",
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": "harness",
                "requestTimeEpoch": int(time.time() * 1000),
                "requestId": request_id,
                "domainName": "harness.execute-api.us-east-1.amazonaws.com",
                "apiId": "harness",
                "identity": {
                    "sourceIp": "127.0.0.1",
                    "userAgent": next((v for n, v in headers if n.lower() == "user-agent"), None),
                },
            },
            "body": payload,
            "isBase64Encoded": encoded,
        }

    def gateway_response(self, response_type: str, default_status: int, message: str) -> tuple[int, dict, bytes]:
        """What API Gateway answers itself: the template's GatewayResponse for the type, else its default."""
        request_id = str(uuid.uuid4())
        spec = self.gateway_responses.get(response_type) or self.gateway_responses.get(
            "DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX"
        )
        if spec is None:
            return default_status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode()
        status = int(spec.get("StatusCode") or default_status)
        headers = {"Content-Type": "application/json"}
        for key, value in (spec.get("ResponseParameters") or {}).items():
            name = key.removeprefix("gatewayresponse.header.")
            if value.startswith("'") and value.endswith("'"):
                headers[name] = value[1:-1]
            elif value == "context.requestId":
                headers[name] = request_id
        template = (spec.get("ResponseTemplates") or {}).get("application/json", json.dumps({"message": message}))
        body = (
            template.replace("$context.requestId", request_id)
            .replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message)
        )
        return status, headers, body.encode()

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path = urlsplit(raw_path).path
        found = self.match(path, method)
        if found is None:
            status, extra, payload = self.gateway_response(
                "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"
            )
            return status, list(extra.items()), payload
        event = self.event(method, raw_path, headers, body, *found)
        answer = self.functions.invoke(API_FUNCTION, event)
        if "error" in answer or not isinstance(answer.get("result"), dict):
            status, extra, payload = self.gateway_response("DEFAULT_5XX", 502, "Internal server error")
            return status, list(extra.items()), payload
        result = answer["result"]
        out_headers: list[tuple[str, str]] = []
        multi = result.get("multiValueHeaders") or {}
        for name, values in multi.items():
            out_headers += [(name, str(v)) for v in values]
        for name, value in (result.get("headers") or {}).items():
            if name not in multi:
                out_headers.append((name, str(value)))
        if not any(name.lower() == "content-type" for name, _ in out_headers):
            # What a REST API does with a proxy response that names no type.
            out_headers.append(("Content-Type", "application/json"))
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        return int(result["statusCode"]), out_headers, payload

    def _handler_class(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = gateway.handle(self.command, self.path, list(self.headers.items()), body)
                gateway.statuses.append(status)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def __getattr__(self, name: str) -> Any:
                # Any method at all reaches the gateway (QUERY, TRACE, ...), as on the internet.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        return Handler


# ------------------------------------------------------------- the deployment
MIGRATE = contract.MIGRATE.logical_id
OPERATOR_KEY = contract.CREATE_OPERATOR_KEY.logical_id


@dataclass
class Deployment:
    package: Package
    functions: Functions
    api: ApiGateway
    xray: XrayDaemon
    admin_url: str
    aws: object  # devstack.aws.LocalAws
    variables: dict  # the API function's template variables (literal ones)
    migrate_result: dict
    operator_key: str
    cold_init_ms: float
    logs: Path

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: object = None,
        headers: dict | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict, object]:
        """One HTTP request through the gateway; honours ``Retry-After`` on 429 (the tests are a client too)."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        for _ in range(5):
            request = urllib.request.Request(self.api.url + path, data=data, method=method, headers=all_headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    status, response_headers, payload = response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                status, response_headers, payload = error.code, dict(error.headers), error.read()
            if status != 429:
                break
            time.sleep(min(float(response_headers.get("Retry-After", "1")), 10))
        try:
            document = json.loads(payload) if payload else None
        except ValueError:
            document = payload
        return status, response_headers, document


def _provision(aws, variables: dict, migrate_variables: dict) -> dict[str, str]:
    """Tables, secrets, the SES identity, the MFA key: named as the template names them, where it gives literals."""
    from chalicelib.core.tables import ALL_TABLES
    from devstack.aws import local_kms_key

    resolved: dict[str, str] = {}
    dynamodb = aws.client("dynamodb")
    for spec in ALL_TABLES:
        name = f"saas-harness-{spec.logical_name}"
        dynamodb.create_table(**spec.boto3_create_kwargs(name))
        resolved[Table(spec.logical_name).variable] = name
    secretsmanager = aws.client("secretsmanager")
    # As CDK creates it: the flat seed Secrets Manager generates, not yet the runtime's document.
    secretsmanager.create_secret(
        Name=variables[Env.JWT_SECRET_ID], SecretString=json.dumps({"seed": True, "secret": secrets.token_urlsafe(48)})
    )
    secretsmanager.create_secret(Name=variables[Env.PEPPER_SECRET_ID], SecretString=secrets.token_urlsafe(48))
    app_secret = secretsmanager.create_secret(
        Name="saas-dev/harness-app-user",
        SecretString=json.dumps(
            {
                "username": migrate_variables[Env.DB_APP_USER],
                "password": secrets.token_urlsafe(24),
                "engine": "postgres",
            }
        ),
    )
    resolved[Env.DB_APP_SECRET_ARN] = app_secret["ARN"]
    aws.client("ses").verify_email_identity(EmailAddress=variables[Env.SES_SENDER])
    # The template names the stateful stack's KMS key by ARN: a key of the local endpoint stands in.
    resolved[Env.MFA_KEY_ID] = local_kms_key(aws, "alias/saas-harness-mfa")
    return resolved


@contextlib.contextmanager
def deployed(source: Path = REPO, *, keep: bool = False) -> Iterator[Deployment]:
    """Package, stand-ins, the deploy (migrations custom resource), the first operator key, the API."""
    from devstack.aws import LocalAws
    from devstack.postgres import EmbeddedPostgres, free_port

    workdir = Path(tempfile.mkdtemp(prefix="saas-lambda-"))
    workdir.chmod(0o755)  # the proxy runs as the unprivileged database user when we are root
    logs = workdir / "logs"
    logs.mkdir()
    stoppers = []
    try:
        package = build_package(workdir, source)
        python = find_interpreter(package.runtime)
        runtime_dir = runtime_libraries(python, package.runtime)

        postgres = EmbeddedPostgres(workdir / "pg", free_port(), fast_unsafe=True)
        postgres.start()
        stoppers.append(postgres.stop)
        migrate_variables = {
            k: v for k, v in package.functions[MIGRATE]["Environment"]["Variables"].items() if isinstance(v, str)
        }
        master = migrate_variables[Env.DB_MASTER_USER]
        # As on Aurora: the master login owns the database and may create roles; it is no superuser.
        with psycopg.connect(postgres.superuser_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(master)))
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(contract.DATABASE_NAME), sql.Identifier(master)
                )
            )
        proxy = TlsProxy(workdir / "proxy", postgres.port, [master, migrate_variables[Env.DB_APP_USER]], master)
        stoppers.append(proxy.stop)

        aws = LocalAws(free_port())
        aws.start()
        stoppers.append(aws.stop)
        variables = {
            k: v for k, v in package.functions[API_FUNCTION]["Environment"]["Variables"].items() if isinstance(v, str)
        }
        resolved = _provision(aws, variables, migrate_variables) | {Env.DB_HOST: "localhost"}
        xray = XrayDaemon()
        stoppers.append(xray.stop)
        cloud = Cloud(
            aws.endpoint_url,
            resolved,
            xray.port,
            extra={Env.DB_PORT: str(proxy.port), Env.DB_SSL_ROOT_CERT: str(proxy.ca)},
        )
        functions = Functions(package, cloud, python, runtime_dir, logs)
        stoppers.append(functions.stop)

        # The deploy: CloudFormation creates the migrations custom resource.
        from chalicelib.core.migrations import digest

        migrate_answer = functions.invoke(MIGRATE, custom_resource_event("Create", {"MigrationsDigest": digest()}))
        assert "error" not in migrate_answer, f"{migrate_answer}\n{(logs / f'{MIGRATE}.log').read_text()[-5000:]}"
        # After the deploy: the first operator key, as docs/DEPLOYMENT.md says.
        key_answer = functions.invoke(OPERATOR_KEY, {"email": "ops@harness.example", "name": "Harness operator"})
        assert "error" not in key_answer, key_answer

        started = time.perf_counter()
        gateway = ApiGateway(package, functions)
        stoppers.append(gateway.stop)
        with urllib.request.urlopen(gateway.url + "/health", timeout=120) as response:
            assert response.status == 200
        cold_init_ms = (time.perf_counter() - started) * 1000

        yield Deployment(
            package=package,
            functions=functions,
            api=gateway,
            xray=xray,
            admin_url=postgres.superuser_url,
            aws=aws,
            variables=variables,
            migrate_result=migrate_answer["result"],
            operator_key=key_answer["result"]["api_key"],
            cold_init_ms=cold_init_ms,
            logs=logs,
        )
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - one failed stop must not keep the others from running
                print(f"harness teardown: {stop!r} failed: {exc!r}", file=sys.stderr)
        if keep:
            print(f"harness left in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
