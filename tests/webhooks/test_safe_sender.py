"""The guarded webhook client: which addresses it refuses, and that it connects where it checked."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.partner import Partner, partner_server
from voucher_exchange.errors import InvalidInput
from voucher_exchange.webhooks.http import SafeWebhookSender, public_address

PUBLIC = "93.184.215.14"


@pytest.fixture(scope="module")
def partner() -> Iterator[Partner]:
    with partner_server() as running:
        yield running


class Dns:
    """A resolver whose answer a test changes (what DNS rebinding does to a real one)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return list(self.addresses)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC, True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_pass(address: str, public: bool) -> None:
    assert public_address(address) is public


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://partner.example/hook", "10.0.0.5"),
        ("http://partner.example/hook", PUBLIC),  # https only
        ("https://user:pw@partner.example/hook", PUBLIC),
        ("ftp://partner.example/hook", PUBLIC),
    ],
)
def test_a_url_that_may_not_receive_is_refused_when_saved(url: str, resolved: str) -> None:
    sender = SafeWebhookSender(1.0, private_targets=False, resolver=Dns(resolved))
    with pytest.raises(InvalidInput) as refused:
        sender.check_url(url)
    assert refused.value.code == "webhook_url_not_allowed"


def test_a_public_https_url_is_accepted() -> None:
    dns = Dns(PUBLIC)
    SafeWebhookSender(1.0, private_targets=False, resolver=dns).check_url("https://partner.example/hook")
    assert dns.asked == ["partner.example"]


def test_a_name_rebound_to_loopback_after_saving_is_refused_at_delivery(partner: Partner) -> None:
    dns = Dns(PUBLIC)
    sender = SafeWebhookSender(1.0, private_targets=False, resolver=dns)
    port = partner.url.rsplit(":", 1)[1]
    url = f"https://rebind.example:{port}/rebound"
    sender.check_url(url)  # saved: the name pointed to a public address
    dns.addresses = ["127.0.0.1"]  # then its owner pointed it at our loopback
    result = sender.send(url, {}, b"{}")
    assert result.status_code is None
    assert result.error is not None and result.error.startswith("refused: ")
    assert partner.at("rebound") == []
    assert dns.asked == ["rebind.example", "rebind.example"]  # resolved again at delivery


def test_the_connection_goes_to_the_address_that_was_checked(partner: Partner) -> None:
    # `pinned.test` exists in no DNS: the request can only arrive through the checked address.
    sender = SafeWebhookSender(
        1.0, private_targets=True, http_hosts=["pinned.test"], resolver=Dns("127.0.0.1")
    )
    port = partner.url.rsplit(":", 1)[1]
    result = sender.send(f"http://pinned.test:{port}/pinned", {"webhook-id": "evt_1"}, b'{"a":1}')
    assert (result.status_code, result.error) == (200, None)
    arrival = partner.at("pinned")[0]
    assert (arrival.headers["host"], arrival.body) == (f"pinned.test:{port}", b'{"a":1}')


def test_private_targets_allow_plain_http_only_to_local_hosts() -> None:
    sender = SafeWebhookSender(1.0, private_targets=True, resolver=Dns("10.0.0.5"))
    sender.check_url("http://localhost:8000/hook")
    sender.check_url("https://intranet.example/hook")
    with pytest.raises(InvalidInput):
        sender.check_url("http://intranet.example/hook")


def test_an_endpoint_that_cannot_be_reached_is_an_answer_not_an_exception() -> None:
    sender = SafeWebhookSender(0.3, private_targets=True, resolver=Dns("192.0.2.1"))  # TEST-NET: no route
    result = sender.send("https://black-hole.example/x", {}, b"{}")
    assert result.status_code is None
    assert result.error is not None


def _tls_pair(tmp_path: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A CA and a certificate for `host` signed by it: (the server's context, a client trusting the CA)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    return server, client


def test_over_https_the_pinned_connection_still_verifies_the_host_name(tmp_path: Path) -> None:
    server_ctx, client_ctx = _tls_pair(tmp_path, "partner.example")
    arrived: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the stdlib's name
            self.rfile.read(int(self.headers.get("content-length") or 0))
            arrived.append(self.headers["host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        # Resolved and checked as partner.example's address (private targets allowed in this
        # test, so 127.0.0.1 may stand for it); the certificate is checked for the name.
        sender = SafeWebhookSender(
            2.0, private_targets=True, resolver=Dns("127.0.0.1"), ssl_context=client_ctx
        )
        ok = sender.send(f"https://partner.example:{port}/tls", {}, b"{}")
        assert (ok.status_code, ok.error, arrived) == (204, None, [f"partner.example:{port}"])
        # A name the certificate does not cover fails the handshake, pinned or not.
        wrong = sender.send(f"https://other.example:{port}/tls", {}, b"{}")
        assert wrong.status_code is None and wrong.error is not None
        assert arrived == [f"partner.example:{port}"]
    finally:
        server.shutdown()
        server.server_close()
