"""Throwaway certificates for TLS tests, made by trustme: a private CA, a certificate for
127.0.0.1 signed by it, and a client certificate for mTLS. Nothing here is trusted by
the system or by certifi, which is the point: crawler must be told (`--ca-bundle`).
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certs:
    """PEM files in one folder."""

    ca: Path  # the CA certificate: what `--ca-bundle` names
    server_cert: Path  # 127.0.0.1 and localhost, with the chain
    server_key: Path
    client_cert: Path  # a client certificate signed by the same CA
    client_key: Path
    client_pem: Path  # the client certificate and its key in one file (`--cert` alone)
    self_signed_cert: Path  # a certificate that signs itself (the CA's own), as a test host has
    self_signed_key: Path

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca)
        return context


@functools.cache
def _authority() -> tuple[trustme.CA, trustme.LeafCert, trustme.LeafCert]:
    ca = trustme.CA(organization_name="crawler tests")
    return ca, ca.issue_cert("127.0.0.1", "localhost"), ca.issue_cert("crawler-client")


def make_certs(folder: Path) -> Certs:
    """Write the test CA, server and client certificates into `folder` (made once per run)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, server, client = _authority()
    certs = Certs(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        client_pem=folder / "client-combined.pem",
        self_signed_cert=folder / "self-signed.pem",
        self_signed_key=folder / "self-signed.key",
    )
    ca.cert_pem.write_to_path(str(certs.self_signed_cert))
    ca.private_key_pem.write_to_path(str(certs.self_signed_key))
    ca.cert_pem.write_to_path(str(certs.ca))
    server.private_key_pem.write_to_path(str(certs.server_key))
    for index, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(str(certs.server_cert), append=index > 0)
    client.private_key_pem.write_to_path(str(certs.client_key))
    client.cert_chain_pems[0].write_to_path(str(certs.client_cert))
    client.private_key_and_cert_chain_pem.write_to_path(str(certs.client_pem))
    return certs
