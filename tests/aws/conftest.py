"""moto as the AWS endpoint for every test under tests/aws/.

One ThreadedMotoServer on 127.0.0.1 (a free port) for the session; each test starts
from an empty account (moto's reset API), with fake credentials and the endpoint in
the environment, so code under test builds its boto3 clients exactly as in Lambda.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

moto_server = pytest.importorskip("moto.server")
requests = pytest.importorskip("requests")

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def use_moto(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Empties moto's account and points boto3 at it, with fake credentials."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty moto account; returns the endpoint URL."""
    use_moto(moto_endpoint, monkeypatch)
    return moto_endpoint
