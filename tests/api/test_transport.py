"""The client's transport loads CA certificates only when it speaks TLS, and then
verifies exactly as httpx's default would (a real TLS server on loopback)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import ServerProcess  # tests/conftest.py

from fttui.api import APIConnectionError, Client
from fttui.api._transport import LazyTLSTransport


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """An HTTPS server answering every request with a JSON health body."""
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            body = b'{"status": "ok"}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}/v1", cert
    finally:
        server.close()
        await server.wait_closed()


async def test_plain_http_never_loads_the_ca_bundle(queued_server: ServerProcess) -> None:
    transport = LazyTLSTransport()
    async with Client(queued_server.base_url, transport=transport) as client:
        health = await client.health()
    assert health is not None and health["status"] == "ok"
    assert not transport.tls_ready


async def test_https_verifies_certificates_like_httpx(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = tls_server
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with Client(url, max_retries=0) as client:
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.health()
    # httpx's own environment rule: trust the CA file named by SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    transport = LazyTLSTransport()
    async with Client(url, max_retries=0, transport=transport) as client:
        health = await client.health()
    assert health == {"status": "ok"}
    assert transport.tls_ready
