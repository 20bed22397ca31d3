"""webhooks.urls: which endpoint URLs webhooks go to (SSRF policy), with DNS played by the test."""

from __future__ import annotations

import ipaddress

import pytest

from chalicelib.webhooks import urls


@pytest.fixture
def dns(monkeypatch):
    """``dns["name"] = ["addr", ...]``: what each host resolves to; an unknown name does not resolve."""
    table: dict[str, list[str]] = {}

    def lookup(host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]  # a literal resolves to itself, as getaddrinfo does
        except ValueError:
            pass
        if host not in table:
            raise OSError(f"{host} does not resolve")
        return table[host]

    monkeypatch.setattr(urls, "lookup", lookup)
    return table


PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "127.8.8.8",
        "169.254.169.254",  # the instance metadata service
        "169.254.170.2",  # the ECS/Lambda credentials endpoint
        "100.64.0.1",  # CGNAT shared space
        "100.127.255.254",
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "fe80::1",  # link-local
        "fc00::1",  # unique local
        "fd12:3456::1",
        "ff02::1",  # multicast
        "::ffff:169.254.169.254",  # IPv4-mapped
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "::a9fe:a9fe",  # IPv4-compatible (deprecated) form
        "2002:a9fe:a9fe::1",  # 6to4
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "2001:db8::1",  # documentation
    ],
)
def test_addresses_that_are_not_public(address):
    assert not urls.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert urls.is_public(ipaddress.ip_address(address))


def test_a_public_https_url_is_accepted(dns):
    dns["hooks.example.com"] = [PUBLIC, "2606:4700:4700::1111"]
    target = urls.check("https://hooks.example.com:443/in/coming?x=1", allow_local=False)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        443,
        "/in/coming?x=1",
    )


def test_another_port_is_refused_in_the_cloud_where_only_443_leaves_the_vpc(dns):
    dns["hooks.example.com"] = [PUBLIC]
    with pytest.raises(urls.UrlRefused, match="443"):
        urls.check("https://hooks.example.com:8443/", allow_local=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/", "https"),
        ("ftp://hooks.example.com/", "https"),
        ("https://user:pw@hooks.example.com/", "user"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https:///path", "host"),
        ("https://hooks.example.com:99999/", "malformed"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/\x01", "control"),
        ("https://" + "a" * 2050 + ".com/", "2048"),
        ("", "1 to"),
        ("https://nowhere.invalid/", "does not resolve"),
    ],
)
def test_malformed_or_unresolvable_urls_are_refused(dns, url, why):
    dns["hooks.example.com"] = [PUBLIC]
    with pytest.raises(urls.UrlRefused, match=why):
        urls.check(url, allow_local=False)


@pytest.mark.parametrize(
    "resolved",
    [
        ["10.0.0.5"],
        ["169.254.169.254"],
        ["127.0.0.1"],
        ["100.64.0.9"],
        ["::1"],
        ["fd00::1"],
        ["::ffff:169.254.169.254"],
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused(dns, resolved):
    dns["internal.example.com"] = resolved
    with pytest.raises(urls.UrlRefused, match="not public"):
        urls.check("https://internal.example.com/hook", allow_local=False)


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns):
    dns["mixed.example.com"] = [PUBLIC, "10.0.0.7"]
    with pytest.raises(urls.UrlRefused, match=r"10\.0\.0\.7"):
        urls.check("https://mixed.example.com/", allow_local=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/",
        "https://127.0.0.1:8443/",
        "https://[::1]/",
        "https://10.1.2.3/",
    ],
)
def test_literal_private_addresses_are_refused_in_the_cloud(dns, url):
    with pytest.raises(urls.UrlRefused):
        urls.check(url, allow_local=False)


def test_the_local_receiver_is_allowed_only_with_the_local_setting(dns):
    with pytest.raises(urls.UrlRefused):
        urls.check("http://127.0.0.1:9000/hook", allow_local=False)
    with pytest.raises(urls.UrlRefused):
        urls.check("https://127.0.0.1:9000/hook", allow_local=False)
    target = urls.check("http://127.0.0.1:9000/hook", allow_local=True)
    assert target.local and (target.scheme, target.port, target.path) == ("http", 9000, "/hook")


@pytest.mark.parametrize(
    "url", ["http://localhost:9000/", "http://10.0.0.1/", "http://169.254.169.254/", "http://127.0.0.2:9000/"]
)
def test_the_local_setting_allows_127_0_0_1_and_nothing_else_private(dns, url):
    dns["localhost"] = ["127.0.0.1"]
    with pytest.raises(urls.UrlRefused):
        urls.check(url, allow_local=True)


def test_the_local_setting_still_requires_https_elsewhere(dns):
    dns["hooks.example.com"] = [PUBLIC]
    with pytest.raises(urls.UrlRefused, match="https"):
        urls.check("http://hooks.example.com/", allow_local=True)
    assert urls.check("https://hooks.example.com/", allow_local=True).host == "hooks.example.com"


def test_sending_checks_again_and_never_connects_to_a_refused_address(dns, monkeypatch):
    """DNS rebinding: accepted at creation, resolving to the metadata service at send time."""
    dns["rebind.example.com"] = [PUBLIC]
    urls.check("https://rebind.example.com/", allow_local=False)
    dns["rebind.example.com"] = ["169.254.169.254"]
    connected = []
    monkeypatch.setattr(urls.socket, "create_connection", lambda *args, **kwargs: connected.append(args))
    answer = urls.post("https://rebind.example.com/", b"{}", {}, allow_local=False)
    assert answer.status_code is None and not answer.succeeded
    assert "not public" in (answer.error or "")
    assert connected == []


def test_sending_connects_to_the_checked_address_and_names_the_host(dns, monkeypatch):
    """The socket goes to the address that was checked, not to a second resolution of the name."""
    dns["pinned.example.com"] = [PUBLIC]
    connected = []

    def refuse(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(urls.socket, "create_connection", refuse)
    answer = urls.post("https://pinned.example.com/x", b"{}", {}, allow_local=False)
    assert connected == [(PUBLIC, 443)]
    assert answer.status_code is None and "ConnectionRefusedError" in (answer.error or "")


def test_a_status_outside_http_is_no_success():
    assert not urls.Answer(None).succeeded
    assert urls.Answer(204).succeeded and urls.Answer(299).succeeded
    assert not urls.Answer(302).succeeded and not urls.Answer(199).succeeded and not urls.Answer(500).succeeded


def test_sending_prefers_the_ipv4_address_the_functions_can_reach(dns, monkeypatch):
    """The functions leave the VPC over IPv4 (the NAT): a name with both kinds is reached over IPv4."""
    dns["dual.example.com"] = ["2606:4700:4700::1111", PUBLIC]
    connected = []

    def refuse(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(urls.socket, "create_connection", refuse)
    urls.post("https://dual.example.com/x", b"{}", {}, allow_local=False)
    assert connected == [(PUBLIC, 443)]
