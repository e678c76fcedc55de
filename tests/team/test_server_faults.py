"""``aml server`` under faults and with TLS: the database lost and back while serving, a
certificate from --certfile/--keyfile (untrusted: one line; trusted: login over TLS)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.postgres import PostgresServer
from tests.team.conftest import TeamServer, aml, start_server
from tests.team.test_server import http, one_error_line

pytestmark = pytest.mark.postgres


def test_database_lost_while_serving_is_one_line_and_recovers(tmp_path: Path,
                                                              postgres: PostgresServer) -> None:
    from tests._wait import wait_until
    from tests.fixtures.postgres import start_postgres
    own = start_postgres()              # a server of this test's own, to stop and start again
    proc = None
    try:
        database = own.create_database()
        assert aml(tmp_path, "server", "init", "--database", database, "--artifacts",
                   str(tmp_path / "a"), "--admin", "ada", "--token-file",
                   str(tmp_path / "t")).returncode == 0
        token = (tmp_path / "t").read_text().strip()
        proc, url = start_server(database, tmp_path / "a", tmp_path / "out", tmp_path)
        server = TeamServer(url, database, tmp_path / "a", proc, tmp_path / "out")
        assert http(server, "/aml/api/whoami", token)[0] == 200
        # When PostgreSQL stops under the running server
        own.stop()
        status, health = http(server, "/health")
        assert status == 503 and health["status"] == "unavailable"
        assert "database unreachable" in health["database"] and "\n" not in health["database"]
        status, answer = http(server, "/aml/api/whoami", token)
        assert status == 503 and answer["message"].startswith("database unreachable")
        # Then, once it is back, the server answers again without a restart
        own.start()
        wait_until(lambda: http(server, "/health")[0] == 200, 30, "health is ok again")
        assert http(server, "/aml/api/whoami", token) == (200, {"name": "ada", "role": "admin"})
        assert proc.poll() is None and "Traceback" not in (tmp_path / "out").read_text()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)
        own.stop()
        import shutil
        shutil.rmtree(own.root, ignore_errors=True)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM), made with ``cryptography``."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def test_tls_from_certfile_and_keyfile(postgres: PostgresServer, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    database = postgres.create_database()
    assert aml(tmp_path, "server", "init", "--database", database, "--artifacts",
               str(tmp_path / "a"), "--admin", "ada", "--token-file",
               str(tmp_path / "t")).returncode == 0
    certfile, keyfile = self_signed(tmp_path)
    proc, url = start_server(database, tmp_path / "a", tmp_path / "out", tmp_path,
                             "--certfile", str(certfile), "--keyfile", str(keyfile))
    try:
        assert url.startswith("https://")
        token = (tmp_path / "t").read_text()
        home = tmp_path / "home"
        home.mkdir()
        # A client that does not trust the certificate refuses it, in one line
        line = one_error_line(aml(home, "workspace", "login", url, "--token-stdin", stdin=token))
        assert "CERTIFICATE_VERIFY_FAILED" in line or "certificate verify failed" in line
        # and one that does (SSL_CERT_FILE, as for a private CA) logs in over TLS
        monkeypatch.setenv("SSL_CERT_FILE", str(certfile))
        login = aml(home, "workspace", "login", url, "--token-stdin", stdin=token)
        assert login.returncode == 0 and "as ada (admin)" in login.stdout, login.stderr
    finally:
        proc.terminate()
        assert proc.wait(60) == 0
