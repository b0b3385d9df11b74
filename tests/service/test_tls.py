"""TLS: with ``[tls]`` set, only callers presenting a certificate signed by the configured CA get in."""

from __future__ import annotations

import ssl
from pathlib import Path

from pynetdicom import AE
from pynetdicom.sop_class import Verification

from tests.dicom_peers import run_tool
from tests.service.conftest import running, service_config
from tests.tools import require_tool


def _certificates(folder: Path) -> dict[str, Path]:
    """A throw-away CA, and a server and a client certificate it signed (openssl)."""
    openssl = require_tool("openssl", "openssl")
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        done = run_tool([openssl, *args])
        assert done.returncode == 0, done.stderr

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=ldedit-test-ca",
        "-keyout",
        str(folder / "ca.key"),
        "-out",
        str(folder / "ca.pem"),
    )
    for name in ("server", "client"):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(folder / f"{name}.key"),
            "-out",
            str(folder / f"{name}.csr"),
        )
        run(
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            str(folder / f"{name}.csr"),
            "-CA",
            str(folder / "ca.pem"),
            "-CAkey",
            str(folder / "ca.key"),
            "-CAcreateserial",
            "-extfile",
            str(ext),
            "-out",
            str(folder / f"{name}.pem"),
        )
    return {p.stem + p.suffix: p for p in folder.iterdir()}


def _echo(port: int, ctx: ssl.SSLContext) -> bool:
    ae = AE(ae_title="DEST")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="LDEDIT", tls_args=(ctx, "localhost"))
    if not assoc.is_established:
        return False
    ok = int(assoc.send_c_echo().Status) == 0
    assoc.release()
    return ok


def test_tls_needs_a_client_certificate_from_the_ca(tmp_path, dest):
    certs = _certificates(tmp_path)
    cfg = service_config(
        tmp_path / "state",
        dest.port,
        tls_cert=str(certs["server.pem"]),
        tls_key=str(certs["server.key"]),
        tls_ca=str(certs["ca.pem"]),
    )
    with running(cfg) as svc:
        trusted = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs["ca.pem"]))
        anonymous = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs["ca.pem"]))
        trusted.load_cert_chain(str(certs["client.pem"]), str(certs["client.key"]))
        assert _echo(svc.port, trusted)
        assert not _echo(svc.port, anonymous)
