"""Certificates made at test time with the openssl command: a CA, broker certificates, a client certificate
with an encrypted key, and a second CA that signed none of them (for "not trusted")."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CLIENT_KEY_PASSWORD = "client-key-pass-7d1"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate (PEM)
    other_ca: Path  # a CA that signed nothing here
    broker_keystore: Path  # key + certificate for 127.0.0.1 (Kafka's ssl.keystore.type=PEM)
    wrong_name_keystore: Path  # key + certificate for broker.invalid only
    client_cert: Path
    client_key: Path  # encrypted with CLIENT_KEY_PASSWORD (PKCS#8)
    plain_client_key: Path  # the same key, unencrypted


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _ca(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN=actorwatch test {name}",
        cwd=folder,
    )  # fmt: skip


def _signed(folder: Path, name: str, san: str) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={name}", cwd=folder)  # fmt: skip
    (folder / f"{name}.ext").write_text(f"subjectAltName={san}\n", encoding="ascii")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=folder)  # fmt: skip


def make_pki(folder: Path) -> Pki:
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is needed to make the test certificates")
    folder.mkdir(parents=True, exist_ok=True)
    _ca(folder, "ca")
    _ca(folder, "other-ca")
    _signed(folder, "broker", "IP:127.0.0.1")
    _signed(folder, "wrong-name", "DNS:broker.invalid")
    _signed(folder, "client", "DNS:actorwatch-client")
    _openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "client.key", "-out", "client-encrypted.key",
             "-passout", f"pass:{CLIENT_KEY_PASSWORD}", cwd=folder)  # fmt: skip
    for name in ("broker", "wrong-name"):
        # Kafka's PEM keystore: the private key (PKCS#8) and the certificate in one file.
        keystore = (folder / f"{name}.key").read_text() + (folder / f"{name}.pem").read_text()
        (folder / f"{name}-keystore.pem").write_text(keystore, encoding="ascii")
    return Pki(
        ca=folder / "ca.pem",
        other_ca=folder / "other-ca.pem",
        broker_keystore=folder / "broker-keystore.pem",
        wrong_name_keystore=folder / "wrong-name-keystore.pem",
        client_cert=folder / "client.pem",
        client_key=folder / "client-encrypted.key",
        plain_client_key=folder / "client.key",
    )
