"""Alarms to an SNS topic (e-mail), and one dashboard with the same metrics.

Alarms: API 5xx rate and p99 latency; Lambda errors and throttles for every
function (a scheduled job's error is a billing-job failure); a "did not run"
alarm per scheduled job (no invocation within its schedule's gap, missing
data = breaching) and messages in the jobs' dead-letter queue; DynamoDB
throttles; Aurora capacity near its maximum; RDS Proxy session pinning,
summed over the proxy's nodes (the runtime never pins — see core.db — so any
sustained pinning is a regression).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.api import AppFunction

FIVE_MINUTES = cdk.Duration.minutes(5)
ACU_NEAR_MAX_PERCENT = 90
# What the runtime can run without for a while (core.observability.dependency_degraded).
DEGRADABLE_DEPENDENCIES = ("database", "dynamodb", "ses", "kms", "stripe")
# CloudWatch evaluates an alarm over at most 7 days (Period x EvaluationPeriods,
# periods of an hour or more): a job that runs less often cannot have a
# "did not run" alarm of its own.
MAX_ALARM_WINDOW_MINUTES = 7 * 24 * 60
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")


def schedule_gap_minutes(expression: str) -> int:
    """The longest time between two runs of an EventBridge schedule, in minutes.

    Knows ``rate(...)`` and the cron shapes the app uses: hourly (fixed
    minute), daily (fixed hour), weekly (fixed day of week) and monthly (fixed
    day of month). Anything else raises, so a new schedule gets a thought.
    """
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        return value * {"minute": 1, "hour": 60, "day": 24 * 60}[unit]
    cron = _CRON.match(expression)
    if cron:
        minute, hour, day_of_month, month, day_of_week, _year = cron.groups()
        every_day = day_of_month in ("*", "?") and day_of_week in ("*", "?")
        if every_day and hour == "*" and minute.isdigit():
            return 60
        if every_day and hour.isdigit() and minute.isdigit():
            return 24 * 60
        if day_of_month == "?" and day_of_week.isalnum() and hour.isdigit() and minute.isdigit():
            return 7 * 24 * 60
        if day_of_month.isdigit() and month == "*" and hour.isdigit() and minute.isdigit():
            return 31 * 24 * 60
    raise ValueError(f"cannot tell how often {expression!r} runs; teach schedule_gap_minutes")


def did_not_run_window_minutes(expression: str) -> int | None:
    """The window with no invocation after which a job has missed a run; ``None`` past CloudWatch's 7 days.

    Three gaps for sub-hourly jobs (a skipped run or two is noise), one gap
    plus two hours otherwise (EventBridge and metric delivery lag).
    """
    gap = schedule_gap_minutes(expression)
    window = 3 * gap if gap < 60 else gap + 120
    return window if window <= MAX_ALARM_WINDOW_MINUTES else None


class Monitoring(Construct):
    """Exposes ``topic``, ``alarms`` (by purpose) and ``dashboard``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str,
        key: kms.IKey,
        api_name: str,
        api_stage: str,
        api_p99_latency_ms: int,
        api_5xx_rate_percent: float,
        functions: tuple[AppFunction, ...],
        job_dead_letters: sqs.IQueue,
        tables: Mapping[str, dynamodb.ITable],
        cluster: rds.IDatabaseCluster,
        proxy_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="SaaS platform alarms", master_key=key, enforce_ssl=True
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        widgets: list[cloudwatch.IWidget] = []

        api_dims = {"ApiName": api_name, "Stage": api_stage}
        requests = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="Count",
            dimensions_map=api_dims,
            statistic="Sum",
            period=FIVE_MINUTES,
        )
        errors_5xx = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map=api_dims,
            statistic="Sum",
            period=FIVE_MINUTES,
        )
        rate_5xx = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"errors": errors_5xx, "requests": requests},
            label="API 5xx rate (%)",
            period=FIVE_MINUTES,
        )
        latency_p99 = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="Latency",
            dimensions_map=api_dims,
            statistic="p99",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "Api5xxRate",
            rate_5xx,
            threshold=api_5xx_rate_percent,
            periods=2,
            description=f"More than {api_5xx_rate_percent}% of API requests answered 5xx",
        )
        self._alarm(
            "ApiLatencyP99",
            latency_p99,
            threshold=api_p99_latency_ms,
            periods=3,
            description=f"API p99 latency above {api_p99_latency_ms} ms",
        )
        widgets += [
            cloudwatch.GraphWidget(title="API requests and 5xx", left=[requests, errors_5xx], right=[rate_5xx]),
            cloudwatch.GraphWidget(title="API latency p99 (ms)", left=[latency_p99]),
        ]

        error_metrics, throttle_metrics, invocation_metrics = [], [], []
        # Scheduled jobs CloudWatch cannot watch for a missed run (see MAX_ALARM_WINDOW_MINUTES).
        self.unwatched_schedules: dict[str, str] = {}
        for function in functions:
            dims = {"FunctionName": function.name}
            errors = cloudwatch.Metric(
                namespace="AWS/Lambda", metric_name="Errors", dimensions_map=dims, statistic="Sum", period=FIVE_MINUTES
            )
            throttles = cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="Throttles",
                dimensions_map=dims,
                statistic="Sum",
                period=FIVE_MINUTES,
            )
            if function.schedule is not None:  # a scheduled job
                # One failed run is one failed billing job: alarm at once.
                self._alarm(
                    f"JobFailure{function.logical_id}",
                    errors,
                    threshold=1,
                    periods=1,
                    description=f"Scheduled job {function.logical_id} failed",
                )
                window = did_not_run_window_minutes(function.schedule)
                invocations = cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name="Invocations",
                    dimensions_map=dims,
                    statistic="Sum",
                    period=cdk.Duration.minutes(window or 60),
                )
                invocation_metrics.append(invocations.with_(label=function.logical_id, period=FIVE_MINUTES))
                if window is None:
                    self.unwatched_schedules[function.logical_id] = function.schedule
                else:
                    # No data at all is the failure this alarm exists for.
                    self._alarm(
                        f"JobDidNotRun{function.logical_id}",
                        invocations,
                        threshold=1,
                        periods=1,
                        comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                        missing=cloudwatch.TreatMissingData.BREACHING,
                        description=f"Scheduled job {function.logical_id} ({function.schedule}) "
                        f"was not invoked in {window} minutes",
                    )
            else:
                self._alarm(
                    f"Errors{function.logical_id}",
                    errors,
                    threshold=5,
                    periods=1,
                    description=f"Lambda {function.logical_id} raised errors",
                )
            self._alarm(
                f"Throttles{function.logical_id}",
                throttles,
                threshold=1,
                periods=1,
                description=f"Lambda {function.logical_id} was throttled",
            )
            error_metrics.append(errors.with_(label=function.logical_id))
            throttle_metrics.append(throttles.with_(label=function.logical_id))
        dead_letters = job_dead_letters.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=FIVE_MINUTES
        )
        self._alarm(
            "JobDeadLetters",
            dead_letters,
            threshold=1,
            periods=1,
            description="A scheduled job's run failed after Lambda's retries (event in the dead-letter queue)",
        )
        widgets += [
            cloudwatch.GraphWidget(title="Lambda errors", left=error_metrics),
            cloudwatch.GraphWidget(title="Lambda throttles", left=throttle_metrics),
            cloudwatch.GraphWidget(title="Scheduled job invocations", left=invocation_metrics),
            cloudwatch.GraphWidget(title="Job dead letters", left=[dead_letters]),
        ]

        dynamo_metrics = []
        for logical_name, table in sorted(tables.items()):
            dims = {"TableName": table.table_name}
            reads = cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name="ReadThrottleEvents",
                dimensions_map=dims,
                statistic="Sum",
                period=FIVE_MINUTES,
            )
            writes = cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name="WriteThrottleEvents",
                dimensions_map=dims,
                statistic="Sum",
                period=FIVE_MINUTES,
            )
            throttled = cloudwatch.MathExpression(
                expression=f"r_{logical_name} + w_{logical_name}",
                using_metrics={f"r_{logical_name}": reads, f"w_{logical_name}": writes},
                label=f"{logical_name} throttled",
                period=FIVE_MINUTES,
            )
            self._alarm(
                f"DynamoThrottles{logical_name.capitalize()}",
                throttled,
                threshold=1,
                periods=1,
                description=f"DynamoDB table {logical_name} throttled requests",
            )
            dynamo_metrics.append(throttled)
        widgets.append(cloudwatch.GraphWidget(title="DynamoDB throttled requests", left=dynamo_metrics))

        acu = cluster.metric("ACUUtilization", statistic="Maximum", period=FIVE_MINUTES)
        capacity = cluster.metric("ServerlessDatabaseCapacity", statistic="Maximum", period=FIVE_MINUTES)
        self._alarm(
            "AuroraCapacityNearMax",
            acu,
            threshold=ACU_NEAR_MAX_PERCENT,
            periods=3,
            description=f"Aurora above {ACU_NEAR_MAX_PERCENT}% of its maximum ACUs",
        )
        # The proxy reports these per node: Sum adds the nodes up (Maximum
        # would show one node's count). See docs/DEPLOYMENT.md, "RDS Proxy pinning".
        pinned = cloudwatch.Metric(
            namespace="AWS/RDS",
            metric_name="DatabaseConnectionsCurrentlySessionPinned",
            dimensions_map={"ProxyName": proxy_name},
            statistic="Sum",
            period=FIVE_MINUTES,
        )
        proxy_connections = cloudwatch.Metric(
            namespace="AWS/RDS",
            metric_name="DatabaseConnections",
            dimensions_map={"ProxyName": proxy_name},
            statistic="Sum",
            period=FIVE_MINUTES,
        )
        # A deploy-time migration pins its one connection for a moment; three
        # consecutive periods of pinning is the application doing it.
        self._alarm(
            "ProxySessionPinning",
            pinned,
            threshold=1,
            periods=3,
            description="RDS Proxy connections pinned (session state leaked onto a connection)",
        )
        # A customer the billing run could not price is set aside (everyone else is
        # billed) and counted by the runtime (billing.service): an operator must look.
        set_aside = cloudwatch.Metric(
            namespace="SaaSPlatform",
            metric_name="BillingCustomersSetAside",
            dimensions_map={"service": "saas-api"},
            statistic="Maximum",
            period=cdk.Duration.hours(1),
        )
        self._alarm(
            "BillingCustomersSetAside",
            set_aside,
            threshold=1,
            periods=1,
            description="A billing run set customers aside (their invoices could not be priced)",
        )
        # Dunning gave up on an invoice (its last retry was declined): the operators' notice
        # (payments.outcomes; the platform chain's payment.collection_failed names it).
        uncollectible = cloudwatch.Metric(
            namespace="SaaSPlatform",
            metric_name="InvoicesUncollectible",
            dimensions_map={"service": "saas-api"},
            statistic="Sum",
            period=cdk.Duration.hours(1),
        )
        self._alarm(
            "InvoicesUncollectible",
            uncollectible,
            threshold=1,
            periods=1,
            description="Invoices became uncollectible: every payment retry was declined",
        )
        # The runtime goes on without a failing dependency where PostgreSQL can decide (rate
        # limiting fails open, the verification cache reads as a miss, e-mails stay queued) and
        # answers 503 where it cannot; each time it counts DependencyDegraded (core.observability).
        # No request reports an error then, so this is how an operator hears of it.
        degraded_metrics = []
        for dependency in DEGRADABLE_DEPENDENCIES:
            degraded = cloudwatch.Metric(
                namespace="SaaSPlatform",
                metric_name="DependencyDegraded",
                dimensions_map={"service": "saas-api", "dependency": dependency},
                statistic="Sum",
                period=FIVE_MINUTES,
            )
            self._alarm(
                f"DependencyDegraded{dependency.capitalize()}",
                degraded,
                threshold=1,
                periods=1,
                description=f"The API ran without {dependency} (degraded, or 503 after a retry)",
            )
            degraded_metrics.append(degraded.with_(label=dependency))
        widgets += [
            cloudwatch.GraphWidget(title="Dependencies degraded", left=degraded_metrics),
            cloudwatch.GraphWidget(title="Aurora ACU", left=[capacity], right=[acu]),
            cloudwatch.GraphWidget(title="RDS Proxy connections", left=[proxy_connections, pinned]),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24),
        ]
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(24))
        for start in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[start : start + 2])

    def _alarm(
        self,
        purpose: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        periods: int,
        description: str,
        comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing=cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            purpose,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[purpose] = alarm
        return alarm
