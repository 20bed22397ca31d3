"""The stateless stack: Chalice functions (SAM), API stage, grants, migrations, monitoring."""

from __future__ import annotations

from chalicelib.core import contract
from chalicelib.core.contract import Env, Table
from chalicelib.core.migrations import digest

ENI_AND_XRAY = {
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}


def _functions(env) -> dict[str, dict]:
    return env.resources("stateless", "AWS::Serverless::Function")


def _scheduled(function: dict) -> bool:
    return any(e.get("Type") == "Schedule" for e in (function["Properties"].get("Events") or {}).values())


def _statements(env, role_prefix: str) -> list[dict]:
    policies = env.resources("stateless", "AWS::IAM::Policy")
    found = []
    for policy in policies.values():
        roles = policy["Properties"]["Roles"]
        if any(r.get("Ref", "").startswith(role_prefix) for r in roles):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    assert found, role_prefix
    return found


def _actions(statement: dict) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_chalice_resources_are_sam(each_env):
    template = each_env.templates["stateless"]
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    functions = _functions(each_env)
    assert {contract.API_HANDLER, contract.MIGRATE.logical_id} <= set(functions)
    assert len(each_env.resources("stateless", "AWS::Serverless::Api")) == 1


def test_the_deployed_functions_are_the_contract_functions(dev):
    """Chalice names each function after the runtime's ``name=``; the contract names the same ones."""
    functions = _functions(dev)
    assert set(functions) == {contract.API_HANDLER} | {function.logical_id for function in contract.FUNCTIONS}
    assert {name for name, function in functions.items() if _scheduled(function)} == {
        function.logical_id for function in contract.SCHEDULED_JOBS
    }


def test_every_function_runs_in_the_vpc_with_tracing_and_its_own_log_group(each_env):
    log_groups = each_env.resources("stateless", "AWS::Logs::LogGroup")
    for name, function in _functions(each_env).items():
        props = function["Properties"]
        assert props["Tracing"] == "Active", name
        vpc = props["VpcConfig"]
        assert len(vpc["SubnetIds"]) == len(each_env.config.availability_zones), name
        assert len(vpc["SecurityGroupIds"]) == 1, name
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group]["Properties"]["RetentionInDays"] == each_env.config.log_retention_days
        assert set(props["Environment"]["Variables"]) >= contract.DEPLOYED_ENVIRONMENT, name
        assert props["MemorySize"] == each_env.config.lambda_memory_mb


def test_environment_variables_are_ones_the_runtime_reads(each_env):
    """The contract's variables (``tests/unit/test_contract.py``: Settings reads each), and the migrate ones apart."""
    for name, function in _functions(each_env).items():
        variables = set(function["Properties"]["Environment"]["Variables"])
        unknown = variables - set(Env)
        assert not unknown, f"{name} sets variables the runtime never reads: {unknown}"
        expected = contract.DEPLOYED_ENVIRONMENT
        if name == contract.MIGRATE.logical_id:
            expected |= contract.MIGRATE_ONLY_ENVIRONMENT
        assert variables == expected, name


def test_runtime_environment_points_at_the_stateful_resources(each_env):
    variables = _functions(each_env)[contract.API_HANDLER]["Properties"]["Environment"]["Variables"]
    config = each_env.config
    assert variables[Env.STAGE] == config.name
    assert variables[Env.DB_IAM_AUTH] == "1"
    proxy = variables[Env.DB_HOST]["Fn::ImportValue"]
    assert "Proxy" in proxy and "Endpoint" in proxy
    assert variables[Env.DB_NAME] == contract.DATABASE_NAME
    assert variables[Env.DB_APP_USER] == contract.APP_LOGIN
    for table in Table:
        assert f"Tables{table.capitalize()}" in variables[table.variable]["Fn::ImportValue"]
    assert variables[Env.JWT_SECRET_ID] == config.jwt_secret_name
    assert variables[Env.PEPPER_SECRET_ID] == config.pepper_secret_name
    assert variables[Env.SES_SENDER] == config.ses_sender
    assert variables[Env.PORTAL_URL] == config.portal_url
    assert variables[Env.PLATFORM_NAME] == config.platform_name
    assert variables[Env.PLATFORM_ADDRESS].split("\n") == list(config.platform_address)
    assert variables[Env.BCRYPT_COST] == str(config.bcrypt_cost)
    assert not contract.MIGRATE_ONLY_ENVIRONMENT & set(variables)


def test_api_timeout_fits_api_gateway_and_jobs_get_longer(each_env):
    functions = _functions(each_env)
    assert functions[contract.API_HANDLER]["Properties"]["Timeout"] <= 29
    for name, function in functions.items():
        if _scheduled(function):
            assert function["Properties"]["Timeout"] == each_env.config.job_timeout_seconds, name


def test_api_stage_throttles_logs_and_traces(each_env):
    [api] = each_env.resources("stateless", "AWS::Serverless::Api").values()
    props = api["Properties"]
    assert props["StageName"] == "api"
    assert props["TracingEnabled"] is True
    # The stage's own limits; POST /webhooks/stripe has its own, lower ones (test_infra_payments.py).
    [settings] = [s for s in props["MethodSettings"] if s["ResourcePath"] == "/*"]
    assert settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == each_env.config.api_throttle_rate
    assert settings["ThrottlingBurstLimit"] == each_env.config.api_throttle_burst
    assert settings["LoggingLevel"] in ("ERROR", "INFO")
    assert settings["DataTraceEnabled"] is False, "full request logging would write secrets to logs"
    access_log = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert each_env.resources("stateless", "AWS::Logs::LogGroup")[access_log]["Properties"]["RetentionInDays"] == (
        each_env.config.log_retention_days
    )
    assert "$context.requestId" in props["AccessLogSetting"]["Format"]
    assert props["Name"] == {"Ref": "AWS::StackName"}


def test_no_api_gateway_authorizer_or_authorizer_cache(each_env):
    """The app authorizes in-process per request, so nothing can delay a revocation."""
    [api] = each_env.resources("stateless", "AWS::Serverless::Api").values()
    body = api["Properties"]["DefinitionBody"]
    assert "securityDefinitions" not in body or not body["securityDefinitions"]
    assert "Auth" not in api["Properties"]
    assert not each_env.resources("stateless", "AWS::ApiGateway::Authorizer")


def test_migrate_function_has_its_own_role_and_master_login(each_env):
    functions = _functions(each_env)
    migrate = functions[contract.MIGRATE.logical_id]
    api_role = functions[contract.API_HANDLER]["Properties"]["Role"]["Fn::GetAtt"][0]
    migrate_role = migrate["Properties"]["Role"]["Fn::GetAtt"][0]
    assert api_role != migrate_role
    for name, function in functions.items():
        if name != contract.MIGRATE.logical_id:
            assert function["Properties"]["Role"]["Fn::GetAtt"][0] == api_role, name
    variables = migrate["Properties"]["Environment"]["Variables"]
    assert variables[Env.DB_MASTER_USER] == contract.MASTER_LOGIN
    assert "AppUserSecret" in variables[Env.DB_APP_SECRET_ARN]["Fn::ImportValue"]
    assert migrate["Properties"]["Timeout"] == 300


def _connect_users(statements: list[dict]) -> set[str]:
    users = set()
    for statement in statements:
        if "rds-db:connect" in _actions(statement):
            users.add(statement["Resource"]["Fn::Join"][1][-1].rsplit("/", 1)[-1])
    return users


def test_database_logins_are_split_between_roles(each_env):
    assert _connect_users(_statements(each_env, "ApiApiRole")) == {contract.APP_LOGIN}
    assert _connect_users(_statements(each_env, "ApiMigrateRole")) == {contract.MASTER_LOGIN}


def test_no_wildcard_resources_except_eni_and_xray(each_env):
    for role in ("ApiApiRole", "ApiMigrateRole"):
        for statement in _statements(each_env, role):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if "*" in resources:
                assert resources == ["*"] and _actions(statement) <= ENI_AND_XRAY, statement
                continue
            for resource in resources:
                if isinstance(resource, str):
                    assert not resource.endswith("*"), statement
            assert not any(a.endswith("*") for a in _actions(statement)), statement


def test_api_role_grants(each_env):
    statements = _statements(each_env, "ApiApiRole")
    dynamo = [s for s in statements if "dynamodb:PutItem" in _actions(s)]
    assert len(dynamo) == 1
    assert "dynamodb:Scan" not in _actions(dynamo[0]) and "dynamodb:DeleteTable" not in _actions(dynamo[0])
    assert len(dynamo[0]["Resource"]) == 4, "three tables and the sessions by_key index"
    ses = [s for s in statements if "ses:SendEmail" in _actions(s)]
    assert len(ses) == 1
    resource = ses[0]["Resource"]["Fn::Join"][1]
    assert resource[-1].endswith(f":identity/{each_env.config.ses_identity}")
    assert ses[0]["Condition"] == {"StringEquals": {"ses:FromAddress": each_env.config.ses_sender}}
    secrets = [
        r
        for s in statements
        if "secretsmanager:GetSecretValue" in _actions(s)
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert len(secrets) == 4, "the JWT keys, the pepper and Stripe's two secrets, nothing else"
    assert all("AppSecrets" in r["Fn::ImportValue"] for r in secrets)
    assert not any("secretsmanager:PutSecretValue" in _actions(s) for s in statements)
    kms = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    # Every use of the key goes through a service, except the one direct grant for sealed secrets
    # (auth.secret_box), which is held to the contract's purposes instead (test_infra_mfa_key.py).
    direct = [s for s in kms if "kms:ViaService" not in s["Condition"]["StringEquals"]]
    assert len(direct) == 1 and _actions(direct[0]) == {"kms:Encrypt", "kms:Decrypt"}
    assert set(direct[0]["Condition"]["StringEquals"]) == {"kms:EncryptionContext:purpose"}
    assert len(kms) > 1


def test_migrations_custom_resource_tracks_the_migration_digest(each_env):
    resources = each_env.resources("stateless", "Custom::DatabaseMigrations")
    assert len(resources) == 1
    [resource] = resources.values()
    assert resource["Properties"]["MigrationsDigest"] == digest()
    # The provider invokes the Chalice migrate function, and waits for its role's policy.
    provider_functions = each_env.resources("stateless", "AWS::Lambda::Function")
    [provider] = [f for k, f in provider_functions.items() if k.startswith("MigrationsProvider")]
    assert provider["Properties"]["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"] == {
        "Fn::GetAtt": [contract.MIGRATE.logical_id, "Arn"]
    }
    assert any(d.startswith("ApiMigrateRoleDefaultPolicy") for d in resource.get("DependsOn", []))


def _alarm_metrics(env) -> list[tuple[str, dict]]:
    found = []
    for alarm in env.resources("stateless", "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if "MetricName" in props:
            found.append((props["MetricName"], props))
        found.extend(
            (query["MetricStat"]["Metric"]["MetricName"], props)
            for query in props.get("Metrics", [])
            if "MetricStat" in query
        )
    return found


def test_alarms_cover_the_issue_list_and_notify_the_topic(each_env):
    template = each_env.template("stateless")
    [topic_id] = each_env.resources("stateless", "AWS::SNS::Topic")
    topic = each_env.resources("stateless", "AWS::SNS::Topic")[topic_id]
    assert "KmsMasterKeyId" in topic["Properties"]
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": each_env.config.alarm_email}
    )
    names = {name for name, _ in _alarm_metrics(each_env)}
    assert {
        "5XXError",
        "Latency",
        "Errors",
        "Throttles",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "ACUUtilization",
        "DatabaseConnectionsCurrentlySessionPinned",
    } <= names
    for alarm in each_env.resources("stateless", "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    latency = [p for n, p in _alarm_metrics(each_env) if n == "Latency"]
    assert latency[0]["ExtendedStatistic"] == "p99"
    assert latency[0]["Threshold"] == each_env.config.api_p99_latency_ms


def test_every_function_has_error_and_throttle_alarms_and_jobs_alarm_on_one_failure(each_env):
    alarms = each_env.resources("stateless", "AWS::CloudWatch::Alarm")
    for name, function in _functions(each_env).items():
        mine = [
            a["Properties"]
            for a in alarms.values()
            if a["Properties"].get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": name}}]
        ]
        # A scheduled job may also have its "did not run" alarm (Invocations, issue 10 C10).
        assert {a["MetricName"] for a in mine} - {"Invocations"} == {"Errors", "Throttles"}, name
        if not _scheduled(function):
            assert "Invocations" not in {a["MetricName"] for a in mine}, name
        if _scheduled(function):
            [errors] = [a for a in mine if a["MetricName"] == "Errors"]
            assert errors["Threshold"] == 1 and errors["EvaluationPeriods"] == 1


def test_dashboard_shows_the_alarmed_metrics(each_env):
    [dashboard] = each_env.resources("stateless", "AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "5XXError",
        "Latency",
        "Errors",
        "Throttles",
        "ReadThrottleEvents",
        "ACUUtilization",
        "DatabaseConnectionsCurrentlySessionPinned",
    ):
        assert metric in body, metric


def test_billing_schedules_run_monthly_and_daily(dev):
    """The monthly run (1st, 02:00 UTC) and a daily job."""
    schedules = {
        name: event["Properties"]["Schedule"]
        for name, function in _functions(dev).items()
        for event in (function["Properties"].get("Events") or {}).values()
        if event.get("Type") == "Schedule"
    }
    assert schedules[contract.BILLING_MONTHLY_RUN.logical_id] == "cron(0 2 1 * ? *)"
    daily = schedules[contract.BILLING_DAILY_JOB.logical_id]
    assert daily.startswith("cron(") and daily.split()[2] == "*", daily
