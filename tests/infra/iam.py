"""Deciding S3 requests as AWS IAM would, with two evaluators that complement each other.

* **moto** in server mode, with IAM enforcement on (``POST /moto-api/reset-auth``), decides on
  Action and Resource but treats every condition it does not implement as met (moto 5,
  ``moto/iam/policy_conditions.py``: only StringEquals is evaluated, and only for keys moto
  fills in). An Allow with a condition therefore allows more than on AWS, and a Deny with a
  condition denies everything it names. Users get :func:`moto_evaluable` documents: the declared
  document less its conditional Deny statements, a superset of what AWS allows. So what moto
  refuses, AWS refuses too, and moto serves the real S3 protocol to the runtime.
* **@cloud-copilot/iam-simulate** (npm, ``iam_decide.mjs``) evaluates the declared documents in
  full, conditions included. Every request the runtime made against moto is recorded (moto's
  request recorder) and decided again here: what the runtime needs must be allowed by the exact
  document, not only by moto's superset.

:func:`decide_trust` asks the same evaluator whether a role's trust policy lets a web identity
in: ``sts:AssumeRoleWithWebIdentity`` from the issuer's IAM OIDC provider, with the token's
``sub`` and ``aud`` as the condition keys IAM fills in for that provider.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import boto3

from devtools.emulators import ROOT, Moto
from tests.infra.harness import ACCOUNT

DECIDER = Path(__file__).with_name("iam_decide.mjs")


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.action} {self.resource} {self.context or ''}".rstrip()


@dataclass(frozen=True)
class WebIdentity:
    """An OIDC token presented to STS: who issued it (the issuer URL without its scheme, as IAM
    names the provider and its condition keys), its subject and its audience."""

    issuer: str
    subject: str
    audience: str

    def request(self) -> dict:
        return {
            "principal": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{self.issuer}",
            "action": "sts:AssumeRoleWithWebIdentity",
            "context": {f"{self.issuer}:sub": self.subject, f"{self.issuer}:aud": self.audience},
        }


def decide(documents: list[dict], requests: list[IamRequest]) -> list[str]:
    """Allowed, ExplicitlyDenied or ImplicitlyDenied for each request, under ``documents``."""
    return _run(
        {
            "account": ACCOUNT,
            "policies": documents,
            "requests": [
                {"action": r.action, "resource": r.resource, "context": r.context} for r in requests
            ],
        }
    )


def decide_trust(role_arn: str, trust: dict, tokens: list[WebIdentity]) -> list[str]:
    """For each token, whether ``trust`` (the role's assume-role policy) lets it assume the
    role: Allowed, ExplicitlyDenied or ImplicitlyDenied."""
    return _run(
        {
            "account": ACCOUNT,
            "trust": trust,
            "role": role_arn,
            "requests": [t.request() for t in tokens],
        }
    )


def _run(payload: dict) -> list[str]:
    done = subprocess.run(
        ["node", str(DECIDER)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    decisions = json.loads(done.stdout)
    errors = [d for d in decisions if d.startswith("error")]
    assert not errors, errors
    return decisions


def moto_evaluable(document: dict) -> dict:
    """``document`` without its conditional Deny statements (see the module docstring)."""
    kept = [s for s in document["Statement"] if not (s["Effect"] == "Deny" and "Condition" in s)]
    return {**document, "Statement": kept}


def to_iam(entry: dict) -> IamRequest:
    """The IAM request a recorded path-style S3 call amounts to."""
    parts = urlsplit(entry["url"])
    bucket, _, key = parts.path.lstrip("/").partition("/")
    query = parse_qs(parts.query, keep_blank_values=True)
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    method = entry["method"]
    if method == "GET" and not key and query.get("list-type") == ["2"]:
        return IamRequest(
            "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": query["prefix"][0]}
        )
    object_arn = f"arn:aws:s3:::{bucket}/{unquote(key)}"
    if method in ("GET", "HEAD") and key and not query.keys() - {"x-id"}:
        return IamRequest("s3:GetObject", object_arn)
    if method == "PUT" and key and not query.keys() - {"x-id"}:
        context = {}
        if "if-none-match" in headers:
            context["s3:if-none-match"] = headers["if-none-match"]
        return IamRequest("s3:PutObject", object_arn, context)
    raise AssertionError(f"a request the test cannot map to IAM: {method} {entry['url']}")


class IamMoto:
    """A moto server whose S3 calls are authorized by IAM users made from policy documents,
    and whose requests can be recorded."""

    def __init__(self, recording: Path) -> None:
        self.recording = recording
        self.server = Moto().record_to(recording)
        self.keys: dict[str, dict[str, str]] = {}

    def start(self) -> IamMoto:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def admin(self, service: str = "s3"):
        """A client of the emulator's root, before enforcement is on."""
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="admin",
            aws_secret_access_key="admin",
        )

    def add_user(self, name: str, documents: list[dict]) -> dict[str, str]:
        """An IAM user holding ``documents``; returns its credentials as environment variables."""
        iam = self.admin("iam")
        iam.create_user(UserName=name)
        for i, document in enumerate(documents):
            iam.put_user_policy(
                UserName=name, PolicyName=f"{name}-{i}", PolicyDocument=json.dumps(document)
            )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        self.keys[name] = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        return self.keys[name]

    def client(self, name: str):
        creds = self.keys[name]
        return boto3.client(
            "s3",
            endpoint_url=self.server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        )

    def enforce(self) -> None:
        """From here on every call is authorized by IAM (no unauthenticated calls left)."""
        self.server.post("/moto-api/reset-auth", b"0")

    def _recorder(self, verb: str) -> bytes:
        method = "GET" if verb == "download-recording" else "POST"
        url = f"{self.server.endpoint}/moto-api/recorder/{verb}"
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            return r.read()

    @contextmanager
    def recorded(self) -> Iterator[list[IamRequest]]:
        """The S3 requests made inside the block, as IAM requests (filled in at its end)."""
        requests: list[IamRequest] = []
        self._recorder("reset-recording")
        self._recorder("start-recording")
        try:
            yield requests
        finally:
            self._recorder("stop-recording")
        lines = self._recorder("download-recording").decode().splitlines()
        requests.extend(to_iam(json.loads(line)) for line in lines if line.strip())
