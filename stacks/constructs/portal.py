"""The customer portal: its build in a private S3 bucket, served by CloudFront with strict headers.

* The bucket blocks all public access and refuses plain http; only this
  distribution reads it, through origin access control (OAC: SigV4-signed
  requests, the bucket policy names the distribution).
* ``/`` is ``index.html``; any path S3 does not hold (403 without ListBucket,
  or 404) is answered with ``index.html`` and ``200``: a single-page app's
  router decides what ``/invoices/<id>`` shows.
* Every answer carries the response-headers policy of ``stacks.portal_policy``
  (the local server uses the same): a CSP without inline or eval'd scripts
  whose ``connect-src`` names the API, HSTS for two years with subdomains,
  ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``, ``nosniff`` and
  ``strict-origin-when-cross-origin``.
* Two deployments of the build: ``assets/*`` (fingerprinted) cached for a year
  and never pruned, so a browser still running the previous ``index.html``
  finds its files; everything else, with a generated ``config.json`` (the API's
  URL and the Stripe publishable key), revalidated on every load, then the
  distribution invalidated.
* S3 server access logs and CloudFront's standard logs go to a log bucket.

The distribution serves ``https://<id>.cloudfront.net`` (CloudFront's default
certificate): no custom domain is configured yet.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from stacks.nag import LAMBDA_BASIC, acknowledge, stack_singletons
from stacks.portal_policy import (
    ASSET_CACHE_CONTROL,
    ASSETS_PREFIX,
    DOCUMENT_CACHE_CONTROL,
    HSTS_MAX_AGE_S,
    STRIPE_JS,
    content_security_policy,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PORTAL_DIST = REPO_ROOT / "portal" / "dist"
# Synthesized without a build (the infra tests, a synth on a machine without Node): this page
# is deployed instead, and says so; build the portal (make portal) before a real deploy.
PLACEHOLDER_DIST = REPO_ROOT / "stacks" / "portal_placeholder"
CONFIG_KEY = "config.json"
# CDK's id for the singleton function behind every BucketDeployment of a stack.
BUCKET_DEPLOYMENT_SINGLETON = "Custom::CDKBucketDeployment"


def portal_source(dist: Path = PORTAL_DIST) -> Path:
    """The build to deploy: ``portal/dist`` when it holds ``index.html``, else the placeholder page."""
    return dist if (dist / "index.html").is_file() else PLACEHOLDER_DIST


class Portal(Construct):
    """Exposes ``bucket``, ``log_bucket``, ``distribution``, ``headers_policy`` and ``origin`` (``https://<domain>``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: Path,
        api_url: str,
        api_origin: str,
        stripe_publishable_key: str,
        log_retention: logs.RetentionDays,
        log_retention_days: int,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        disposable = removal_policy == cdk.RemovalPolicy.DESTROY
        # CloudFront's standard logs are written with ACLs: this bucket keeps them (BucketOwnerPreferred).
        self.log_bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(log_retention_days))],
            removal_policy=removal_policy,
            auto_delete_objects=disposable,
        )
        acknowledge(
            self.log_bucket,
            "S1",
            "This bucket is the access-log destination of the portal's bucket and distribution; "
            "logging its own writes would log the logs.",
        )
        self.bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/",
            removal_policy=removal_policy,
            auto_delete_objects=disposable,
        )

        csp = content_security_policy(api=api_origin)
        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="Customer portal: CSP, HSTS, no framing, nosniff, referrer policy",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.seconds(HSTS_MAX_AGE_S), include_subdomains=True, override=True
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
            ),
        )
        # A path that is no object: the app's index (S3 answers 403 for a missing key without ListBucket).
        spa_fallback = [
            cloudfront.ErrorResponse(
                http_status=status,
                response_http_status=200,
                response_page_path="/index.html",
                ttl=cdk.Duration.seconds(0),
            )
            for status in (403, 404)
        ]
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Customer portal",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
                compress=True,
            ),
            error_responses=spa_fallback,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
        )
        self._acknowledge_distribution()
        self.origin = f"https://{self.distribution.distribution_domain_name}"

        deployment_logs = logs.LogGroup(self, "DeploymentLogs", retention=log_retention, removal_policy=removal_policy)
        assets = s3deploy.BucketDeployment(
            self,
            "DeployAssets",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(str(source))],
            exclude=["*"],
            include=[f"{ASSETS_PREFIX}*"],
            cache_control=[s3deploy.CacheControl.from_string(ASSET_CACHE_CONTROL)],
            prune=False,
            log_group=deployment_logs,
        )
        config_document = {
            "apiUrl": api_url,
            "stripePublishableKey": stripe_publishable_key,
            "stripeJsUrl": f"{STRIPE_JS}/v3/",
        }
        documents = s3deploy.BucketDeployment(
            self,
            "DeployDocuments",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(str(source)), s3deploy.Source.json_data(CONFIG_KEY, config_document)],
            exclude=[f"{ASSETS_PREFIX}*"],
            cache_control=[s3deploy.CacheControl.from_string(DOCUMENT_CACHE_CONTROL)],
            distribution=self.distribution,
            distribution_paths=["/*"],
            log_group=deployment_logs,
        )
        # index.html names the new assets: they are in the bucket before it is.
        documents.node.add_dependency(assets)
        self._acknowledge_deployment_function()

    def _acknowledge_distribution(self) -> None:
        acknowledge(
            self.distribution,
            "CFR1",
            "The portal serves customers wherever they are; what they may see is decided by the API's "
            "authentication, not by their country.",
        )
        acknowledge(
            self.distribution,
            "CFR2",
            "The portal is static files (no server-side input to filter); the API behind it has its own "
            "throttling and per-tenant rate limits. A WAF web ACL can be attached later without change here.",
        )
        acknowledge(
            self.distribution,
            "CFR4",
            "No custom domain is configured yet: the distribution uses CloudFront's default *.cloudfront.net "
            "certificate, whose TLS policy CloudFront fixes; a custom domain would set TLSv1.2_2021.",
        )

    def _deployment_wildcards(self) -> list[str]:
        """The wildcards of CDK's grants to its BucketDeployment function, as cdk-nag names them."""
        stack = cdk.Stack.of(self)
        site = stack.get_logical_id(self.bucket.node.default_child)
        asset_bucket = f"cdk-{cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-<AWS::AccountId>-{stack.region}"
        actions = ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")
        return [
            *(f"Action::{action}" for action in actions),
            "Resource::*",
            f"Resource::arn:<AWS::Partition>:s3:::{asset_bucket}/*",
            f"Resource::<{site}.Arn>/*",
        ]

    def _acknowledge_deployment_function(self) -> None:
        for function in stack_singletons(self, BUCKET_DEPLOYMENT_SINGLETON):
            role = function.node.find_child("ServiceRole")
            acknowledge(
                role,
                f"IAM4[{LAMBDA_BASIC}]",
                "CDK's BucketDeployment function only writes its own logs; the AWS basic execution policy is "
                "exactly that.",
            )
            for finding in self._deployment_wildcards():
                acknowledge(
                    role.node.find_child("DefaultPolicy"),
                    f"IAM5[{finding}]",
                    "CDK's BucketDeployment function copies the build's objects (keys known only at deploy) from "
                    "the CDK asset bucket into the portal bucket, deletes stale ones, and invalidates the "
                    "distribution (CloudFront invalidations have no resource-level permissions).",
                )
            acknowledge(
                function,
                "L1",
                "CDK's BucketDeployment function pins the runtime its bundled AWS CLI layer supports.",
            )
