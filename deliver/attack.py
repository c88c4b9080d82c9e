"""MITRE ATT&CK tactics, once: Falco's ``mitre_*`` tag, the tactic's id and name, and the
ASFF finding type Security Hub files it under.

One row per tactic; the OCSF finding (``deliver.ocsf``) reads the id and name, the ASFF
finding (``deliver.securityhub``) the type. ASFF's taxonomy has TTPs for ten tactics and
Effects for exfiltration and impact; reconnaissance is filed under Discovery, and
resource development has no type (``asff_type`` is None).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ATTACK_URL = "https://attack.mitre.org"


@dataclass(frozen=True, slots=True)
class Tactic:
    tag: str  # Falco's rule tag
    uid: str  # ATT&CK's id, TA00xx
    name: str
    asff_type: str | None  # ASFF Types entry (namespace/category), None where ASFF has none

    @property
    def url(self) -> str:
        return f"{ATTACK_URL}/tactics/{self.uid}/"


TACTICS: tuple[Tactic, ...] = (
    Tactic("mitre_reconnaissance", "TA0043", "Reconnaissance", "TTPs/Discovery"),
    Tactic("mitre_resource_development", "TA0042", "Resource Development", None),
    Tactic("mitre_initial_access", "TA0001", "Initial Access", "TTPs/Initial Access"),
    Tactic("mitre_execution", "TA0002", "Execution", "TTPs/Execution"),
    Tactic("mitre_persistence", "TA0003", "Persistence", "TTPs/Persistence"),
    Tactic(
        "mitre_privilege_escalation", "TA0004", "Privilege Escalation", "TTPs/Privilege Escalation"
    ),
    Tactic("mitre_defense_evasion", "TA0005", "Defense Evasion", "TTPs/Defense Evasion"),
    Tactic("mitre_credential_access", "TA0006", "Credential Access", "TTPs/Credential Access"),
    Tactic("mitre_discovery", "TA0007", "Discovery", "TTPs/Discovery"),
    Tactic("mitre_lateral_movement", "TA0008", "Lateral Movement", "TTPs/Lateral Movement"),
    Tactic("mitre_collection", "TA0009", "Collection", "TTPs/Collection"),
    Tactic(
        "mitre_command_and_control", "TA0011", "Command and Control", "TTPs/Command and Control"
    ),
    Tactic("mitre_exfiltration", "TA0010", "Exfiltration", "Effects/Data Exfiltration"),
    Tactic("mitre_impact", "TA0040", "Impact", "Effects/Data Destruction"),
)
BY_TAG: dict[str, Tactic] = {t.tag: t for t in TACTICS}
IMPACT = BY_TAG["mitre_impact"]


def tactics_of(tags: Iterable[str]) -> list[Tactic]:
    """The tactics Falco's tags name, in the tags' order."""
    return [BY_TAG[tag] for tag in tags if tag in BY_TAG]


def technique_url(ident: str) -> str:
    """ATT&CK's page for a technique (T1059) or sub-technique (T1059.004)."""
    base, _, sub = ident.partition(".")
    return f"{ATTACK_URL}/techniques/{base}/{sub}/" if sub else f"{ATTACK_URL}/techniques/{base}/"
