"""A certificate authority for the lab's Dask cluster, and a certificate for each of its parts.

    python -m deploy.certs DIR scheduler worker-1 worker-2 app-a   # ca.pem, NAME.pem, NAME-key.pem

A Dask scheduler or worker runs whatever function a connected peer sends it, so the lab's
cluster speaks TLS with both sides checked: every part (scheduler, training worker, app server)
presents a certificate signed by the cluster's own CA and refuses a peer whose certificate that
CA did not sign. This makes the CA (`DIR/ca.pem`, its key `DIR/ca-key.pem`) and, for each name,
a certificate and key (`DIR/NAME.pem`, `DIR/NAME-key.pem`, readable by their owner only). Run it
again with new names to add parts: it signs them with the CA already in DIR. Keep `ca-key.pem`
off the cluster's machines; give each machine `ca.pem` and its own pair (docs/DEPLOY.md).

`make cluster` (`deploy.cluster`) makes a set like this for its processes. It imports nothing
from `core` (which loads Keras), only `cryptography`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
from pathlib import Path

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
DAYS = 730  # Two years: a cluster for a course outlives a term; renew by running this again.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    # P-256: made in a millisecond (RSA 2048 takes about 50 ms) and accepted by every OpenSSL.
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Autoencoder Lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(days: int = DAYS):
    """A new CA: (its private key, its self-signed certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    name = _name("autoencoder-lab dask CA")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # Clocks a little apart.
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def issue(ca_key, ca_certificate, name: str, days: int = DAYS):
    """A certificate for the part `name`, signed by the CA: (its private key, its certificate).

    Good for both ends of a connection (server and client authentication): a worker listens
    for the scheduler and its peers and connects to them too."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        # Dask checks the CA's signature, not host names (its peers are IP addresses); the
        # name is here for people and for tools that do look.
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def write_private(path: Path, data: bytes) -> None:
    """Write `path` readable by its owner only, from the moment it exists."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_certificate(certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM)


def create(
    folder: Path | str, names: list[str], keep_ca_key: bool = True, days: int = DAYS
) -> dict[str, dict[str, str]]:
    """The CA in `folder` (made if absent) and a certificate for each name; returns, per name,
    the `AE_DASK_TLS_*` variables that give a process its files.

    `keep_ca_key=False` writes no CA key: nothing can be signed later (`make cluster` makes
    every certificate it needs at once)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    for name in names:
        if not NAME.match(name) or name in {"ca", "ca-key"}:
            raise ValueError(f"{name!r}: a part's name is letters, digits, '.', '_', '-'")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca_file, ca_key_file = folder / CA_FILE, folder / CA_KEY_FILE
    if ca_file.exists() and ca_key_file.exists():  # Add parts to an existing cluster.
        ca_certificate = x509.load_pem_x509_certificate(ca_file.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    elif ca_file.exists():
        raise ValueError(f"{ca_file} exists without its key {ca_key_file}: cannot sign for it")
    else:
        ca_key, ca_certificate = make_ca(days)
        ca_file.write_bytes(_pem_certificate(ca_certificate))
        if keep_ca_key:
            write_private(ca_key_file, _pem_key(ca_key))
    environments = {}
    for name in names:
        key, certificate = issue(ca_key, ca_certificate, name, days)
        write_private(folder / f"{name}-key.pem", _pem_key(key))
        (folder / f"{name}.pem").write_bytes(_pem_certificate(certificate))
        environments[name] = {
            "AE_DASK_TLS_CA_FILE": str(ca_file),
            "AE_DASK_TLS_CERT": str(folder / f"{name}.pem"),
            "AE_DASK_TLS_KEY": str(folder / f"{name}-key.pem"),
        }
    return environments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.certs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", help="where the CA and the certificates go (made 0700)")
    parser.add_argument("names", nargs="+", help="one per part: scheduler, worker-1, app-a, ...")
    parser.add_argument("--days", type=int, default=DAYS, help=f"validity (default {DAYS})")
    args = parser.parse_args(argv)
    try:
        environments = create(args.folder, args.names, days=args.days)
    except ValueError as error:
        parser.error(str(error))
    for name, environment in environments.items():
        print(f"{name}: " + " ".join(f"{key}={value}" for key, value in environment.items()))
    print(f"keep {Path(args.folder) / CA_KEY_FILE} safe and off the cluster's machines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
