"""``mlops-ci demo``: a self-contained demo repository with a real model, card and history."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_ci.demo.evalset import write_eval_set
from mlops_ci.demo.model import save_mlp
from mlops_ci.errors import UsageError
from mlops_ci.fsutil import atomic_write
from mlops_ci.resources import template_text

DEMO_MODEL = "fraud-detector"
ORIGIN_DIRNAME = "mlops-ci-demo-origin.git"
PRIVATE_KEY = Path(".mlops-ci/keys/signing-key.pem")
PUBLIC_KEY = Path("keys/signing-key.pub")
EVAL_DATA = Path("data/fraud-eval.parquet")
# The retrained release: the first one's weights, each moved by ~5% (seeded), as a retrain on
# fresh data moves them. Its quality stays within the eval gate; see the README to make it fail.
RETRAIN_JITTER = 0.05


def write_vuln_db(directory: Path) -> Path:
    """Write the demo's offline OSV database: one JSON record per file, plus its attribution."""
    bundle = json.loads(template_text("demo/vuln-db.json"))
    for record in bundle["records"]:
        package = record["affected"][0]["package"]["name"].lower()
        atomic_write(directory / package / f"{record['id']}.json", json.dumps(record, indent=1))
    atomic_write(
        directory / "README.md", f"# Demo vulnerability database\n\n{bundle['attribution']}\n"
    )
    return directory


def create_demo(target: Path) -> Path:
    """Create the demo repository in ``target`` (which must be empty or absent); returns it.

    The bare ``origin`` lives inside ``.git/`` so the demo stays one self-contained folder.
    """
    from mlops_ci.gitops import add_bare_origin, commit_all, init_repository

    target = target.resolve()  # the bare origin's URL must not depend on the working directory
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} is not an empty directory; give a new or empty DIR")
    target.mkdir(parents=True, exist_ok=True)
    model_dir = target / "models" / DEMO_MODEL
    save_mlp(model_dir / "model.onnx", (64, 32, 2), seed=7, name=DEMO_MODEL)
    write_eval_set(model_dir / "model.onnx", target / EVAL_DATA)
    atomic_write(target / "requirements.txt", template_text("demo/requirements.txt"))
    atomic_write(model_dir / "README.md", template_text("demo/model_card.md"))
    atomic_write(target / "mlops-ci.yaml", template_text("demo/mlops-ci.yaml"))
    atomic_write(target / "src" / "fraud_detector" / "__init__.py", '"""Fraud detector."""\n')
    atomic_write(
        target / "src" / "fraud_detector" / "scoring.py", template_text("demo/serve.py.txt")
    )
    write_vuln_db(target / "vuln-db")
    atomic_write(target / ".gitignore", ".mlops-ci/\nreports/\n*.tmp\n")
    write_signing_key(target / PRIVATE_KEY, target / PUBLIC_KEY)
    init_repository(target)
    commit_all(target, f"Add the {DEMO_MODEL} model, its card and the mlops-ci config")
    add_bare_origin(target, target / ".git" / ORIGIN_DIRNAME)
    return target


def write_signing_key(private_path: Path, public_path: Path) -> None:
    """Generate an EC P-256 key pair: the private key (0600, never printed) and its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(private_path, private_pem, mode=0o600)
    atomic_write(public_path, public_pem)
