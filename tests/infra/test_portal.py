"""The customer portal in the cloud (issue 15): private bucket behind CloudFront (OAC), strict headers, config.json.

The API's CORS origin is the distribution's, set on the API stage (not in the
function's environment: that would make the template cyclic, see
``StatelessStack._portal_origin_on_stage``).
"""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.core.contract import Env
from stacks.constructs.portal import PLACEHOLDER_DIST, portal_source
from stacks.portal_policy import ASSET_CACHE_CONTROL, DOCUMENT_CACHE_CONTROL, content_security_policy

API_ORIGIN_SUB = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
ONE_YEAR_S = 365 * 24 * 3600


def _one(env, resource_type: str) -> tuple[str, dict]:
    found = env.resources("stateless", resource_type)
    assert len(found) == 1, f"{resource_type}: {sorted(found)}"
    return next(iter(found.items()))


def _render(value, tokens: dict[str, str]) -> str:
    """A Fn::Join of literals and tokens as text, each token named by ``tokens`` (by its JSON)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part, tokens) for part in parts)
    return tokens[json.dumps(value, sort_keys=True)]


def _csp(env) -> str:
    _, policy = _one(env, "AWS::CloudFront::ResponseHeadersPolicy")
    csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert csp["Override"] is True
    return _render(csp["ContentSecurityPolicy"], {json.dumps(API_ORIGIN_SUB, sort_keys=True): "<api>"})


def _directives(csp: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (d.split() for d in csp.split(";") if d.strip())}


def _site_bucket(env) -> tuple[str, dict]:
    buckets = env.resources("stateless", "AWS::S3::Bucket")
    site = {k: v for k, v in buckets.items() if k.startswith("PortalSite")}
    assert len(site) == 1, sorted(buckets)
    return next(iter(site.items()))


def test_the_bucket_is_private_encrypted_logged_and_only_the_distribution_reads_it(each_env):
    site_id, site = _site_bucket(each_env)
    props = site["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("PortalLogs")
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policies = each_env.resources("stateless", "AWS::S3::BucketPolicy")
    (policy,) = (p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": site_id})
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    readers = [s for s in statements if s["Effect"] == "Allow" and "s3:GetObject" in json.dumps(s["Action"])]
    assert [s["Principal"] for s in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    assert "PortalDistribution" in json.dumps(readers[0]["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert all(s["Principal"] != "*" and s["Principal"] != {"AWS": "*"} for s in statements if s["Effect"] == "Allow")


def test_cloudfront_reads_the_bucket_through_origin_access_control(each_env):
    oac_id, oac = _one(each_env, "AWS::CloudFront::OriginAccessControl")
    assert oac["Properties"]["OriginAccessControlConfig"] | {"Name": None} == {
        "Name": None,
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    _, distribution = _one(each_env, "AWS::CloudFront::Distribution")
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert origin["DomainName"]["Fn::GetAtt"][0].startswith("PortalSite")


def test_the_distribution_serves_the_single_page_app_over_https_only(each_env):
    _, distribution = _one(each_env, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["ResponseHeadersPolicyId"]["Ref"].startswith("PortalHeaders")
    fallback = {e["ErrorCode"]: (e["ResponseCode"], e["ResponsePagePath"]) for e in config["CustomErrorResponses"]}
    assert fallback == {403: (200, "/index.html"), 404: (200, "/index.html")}
    assert config["Logging"]["Bucket"]["Fn::GetAtt"][0].startswith("PortalLogs")


def test_the_csp_allows_no_inline_script_and_names_the_api_and_stripe(each_env):
    directives = _directives(_csp(each_env))
    assert directives["script-src"] == ["'self'", "https://js.stripe.com"]
    assert not any("unsafe" in source for sources in directives.values() for source in sources if sources)
    assert directives["connect-src"] == ["'self'", "<api>", "https://api.stripe.com"]
    assert "https://js.stripe.com" in directives["frame-src"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]


def test_the_cloud_csp_is_the_one_make_run_serves():
    """Both come from stacks.portal_policy; the local server only swaps in its own origins."""
    from devstack.portal_server import PortalConfig

    local = PortalConfig("http://127.0.0.1:8000", "http://127.0.0.1:8420", "pk_test_local")
    local_names = list(_directives(local.security_headers()["Content-Security-Policy"]))
    assert local_names == list(_directives(content_security_policy(api="<api>")))


def test_the_cloud_csp_is_exactly_the_shared_policy(dev):
    assert _csp(dev) == content_security_policy(api="<api>")


def test_hsts_no_framing_nosniff_and_the_referrer_policy(each_env):
    _, policy = _one(each_env, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    hsts = headers["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= ONE_YEAR_S
    assert hsts["IncludeSubdomains"] is True and hsts["Override"] is True
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"] == {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": True}


def test_the_api_allows_exactly_the_distribution_s_origin(each_env):
    """PORTAL_ORIGIN on the API stage: https://<the distribution's domain>, patched by one narrow call."""
    setters = {
        k: v
        for k, v in each_env.resources("stateless", "Custom::AWS").items()
        if "updateStage" in json.dumps(v["Properties"]["Create"])
    }
    assert len(setters) == 1
    setter_id, setter = next(iter(setters.items()))
    create = setter["Properties"]["Create"]
    assert create == setter["Properties"]["Update"]
    distribution_id, _ = _one(each_env, "AWS::CloudFront::Distribution")
    tokens = {
        json.dumps({"Ref": "RestAPI"}, sort_keys=True): "<rest-api>",
        json.dumps({"Ref": "RestAPI.Stage"}, sort_keys=True): "<stage>",
        json.dumps({"Fn::GetAtt": [distribution_id, "DomainName"]}, sort_keys=True): "<distribution-domain>",
    }
    call = json.loads(_render(create, tokens))
    assert (call["service"], call["action"]) == ("APIGateway", "updateStage")
    assert call["parameters"] == {
        "restApiId": "<rest-api>",
        "stageName": "<stage>",
        "patchOperations": [
            {"op": "replace", "path": f"/variables/{Env.PORTAL_ORIGIN.value}", "value": "https://<distribution-domain>"}
        ],
    }
    policies = each_env.resources("stateless", "AWS::IAM::Policy")
    construct = setter_id[:-8]  # the logical id without CDK's 8-character hash: PortalOriginStageVariable
    (policy,) = (p for k, p in policies.items() if k.startswith(f"{construct}CustomResourcePolicy"))
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "apigateway:PATCH"
    resource = json.dumps(statement["Resource"])
    assert "/restapis/${RestAPI}/stages/api" in resource


def test_no_function_depends_on_the_distribution(each_env):
    """The function's environment must not name the distribution: its CSP names the API (a cycle)."""
    for name, function in each_env.resources("stateless", "AWS::Serverless::Function").items():
        variables = json.dumps(function["Properties"]["Environment"]["Variables"])
        assert "PortalDistribution" not in variables, name


def _deployments(env) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in env.resources("stateless", "Custom::CDKBucketDeployment").items()}


def test_the_build_is_deployed_with_config_json_and_the_distribution_invalidated(dev):
    deployments = _deployments(dev)
    documents = next(p for k, p in deployments.items() if k.startswith("PortalDeployDocuments"))
    distribution_id, _ = _one(dev, "AWS::CloudFront::Distribution")
    assert documents["DistributionId"] == {"Ref": distribution_id}
    assert documents["DistributionPaths"] == ["/*"]
    assert documents["Exclude"] == ["assets/*"]
    assert documents["SystemMetadata"]["cache-control"] == DOCUMENT_CACHE_CONTROL
    # The second source is config.json, its API URL a deploy-time marker.
    markers = documents["SourceMarkers"][1]
    (api_url,) = markers.values()
    assert "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api" in json.dumps(api_url)
    key = documents["SourceObjectKeys"][1].removesuffix(".zip")
    config_text = (dev.outdir / f"asset.{key}" / "config.json").read_text()
    (marker,) = markers
    config = json.loads(config_text.replace(marker, '"<api-url>"'))
    assert config == {
        "apiUrl": "<api-url>",
        "stripePublishableKey": dev.config.stripe_publishable_key,
        "stripeJsUrl": "https://js.stripe.com/v3/",
    }


def test_fingerprinted_assets_are_cached_for_a_year_and_kept_for_older_pages(dev):
    deployments = _deployments(dev)
    assets = next(p for k, p in deployments.items() if k.startswith("PortalDeployAssets"))
    assert (assets["Exclude"], assets["Include"]) == (["*"], ["assets/*"])
    assert assets["SystemMetadata"]["cache-control"] == ASSET_CACHE_CONTROL
    assert assets["Prune"] is False


def test_without_a_build_the_placeholder_is_deployed(tmp_path: Path):
    assert portal_source(tmp_path / "dist") == PLACEHOLDER_DIST
    assert (PLACEHOLDER_DIST / "index.html").is_file()
    built = tmp_path / "built"
    built.mkdir()
    (built / "index.html").write_text("<!doctype html>")
    assert portal_source(built) == built
