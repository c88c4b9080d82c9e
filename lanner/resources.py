"""Where the files lanner ships beside its code are: the rules, the demo's samples, the BPF sources.

The repository keeps each of them once, at its top (``rules/``, ``samples/``, ``bpf/``), where the
Lambda build and the tests read them; an installed wheel carries them inside the package that
reads them (``lanner/rules/``, ``lanner/samples/``, ``sensor/bpf/``: the mapping is in
``pyproject.toml``). Both layouts are looked up here, so ``lanner`` works the same from a
checkout, an editable install and a wheel.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir", "rules_dir", "samples_dir"]

_LANNER = Path(__file__).resolve().parent


def data_dir(package_dir: Path, name: str) -> Path:
    """``name`` inside ``package_dir`` (a wheel), else beside it (a checkout).

    When neither exists the installed location is returned, so the error a user then sees
    names the place an install should have put the files.
    """
    installed = package_dir / name
    if installed.is_dir():
        return installed
    checkout = package_dir.parent / name
    return checkout if checkout.is_dir() else installed


def rules_dir() -> Path:
    """lanner's own rules."""
    return data_dir(_LANNER, "rules")


def samples_dir() -> Path:
    """The recorded CloudTrail files, EKS audit log and node recording ``lanner demo`` replays."""
    return data_dir(_LANNER, "samples")
