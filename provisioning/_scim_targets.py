"""The SCIM User attributes Prompt's SCIM service stores, to check mapping targets.

A copy of what the service advertises in /Schemas (RFC 7643 sections 4.1 and 4.3,
Prompt's extension) and of the common attributes (section 3.1); the engine talks to
the service only over HTTP, so tests compare this table with /Schemas.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = [
    "COMMON",
    "CORE_USER",
    "ENTERPRISE_USER",
    "PROMPT_USER",
    "SCHEMAS",
    "Attribute",
    "canonical_target",
    "target_problem",
]

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROMPT_USER = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"


@dataclass(frozen=True)
class Attribute:
    """One attribute: its sub-attributes, whether multi-valued, whether read-only."""

    name: str
    subs: tuple[str, ...] = ()
    multi_valued: bool = False
    read_only: bool = False

    def sub(self, name: str) -> str | None:
        """Return the sub-attribute's canonical name (RFC 7643 2.1: any case)."""
        return next((s for s in self.subs if s.lower() == name.lower()), None)


_PLURAL = ("value", "display", "type", "primary")

# id and meta are assigned by the service (RFC 7643 3.1); externalId is Entra's.
COMMON = (
    Attribute("id", read_only=True),
    Attribute("externalId"),
    Attribute(
        "meta",
        ("resourceType", "created", "lastModified", "location", "version"),
        read_only=True,
    ),
)

SCHEMAS: dict[str, tuple[Attribute, ...]] = {
    CORE_USER: (
        Attribute("userName"),
        Attribute(
            "name",
            (
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
            ),
        ),
        Attribute("displayName"),
        Attribute("nickName"),
        Attribute("profileUrl"),
        Attribute("title"),
        Attribute("userType"),
        Attribute("preferredLanguage"),
        Attribute("locale"),
        Attribute("timezone"),
        Attribute("active"),
        Attribute("password"),
        Attribute("emails", _PLURAL, multi_valued=True),
        Attribute("phoneNumbers", _PLURAL, multi_valued=True),
        Attribute("ims", _PLURAL, multi_valued=True),
        Attribute("photos", _PLURAL, multi_valued=True),
        Attribute(
            "addresses",
            (
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary",
            ),
            multi_valued=True,
        ),
        Attribute("entitlements", _PLURAL, multi_valued=True),
        Attribute("roles", _PLURAL, multi_valued=True),
        Attribute("x509Certificates", _PLURAL, multi_valued=True),
    ),
    ENTERPRISE_USER: (
        Attribute("employeeNumber"),
        Attribute("costCenter"),
        Attribute("organization"),
        Attribute("division"),
        Attribute("department"),
        Attribute("manager", ("value",)),
    ),
    PROMPT_USER: (
        Attribute("department"),
        Attribute("section"),
    ),
}

# The service takes a bare manager id for the whole manager (RFC 7643 4.3 names
# only `value` as settable); Entra maps [manager] to it.
_TAKES_A_BARE_VALUE = {(ENTERPRISE_USER, "manager")}

_PATH = re.compile(
    r"^(?P<attr>[A-Za-z][\w$-]*)"
    r'(?:\[(?P<fattr>[A-Za-z][\w$-]*) (?P<op>[A-Za-z]+) "(?P<fval>[^"]*)"\])?'
    r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$"
)
_SHORT_NAMES = {
    CORE_USER: "the core User schema",
    ENTERPRISE_USER: "the enterprise extension",
    PROMPT_USER: "Prompt's extension",
}
_MEANINGS = {
    (ENTERPRISE_USER, "department"): "free text, stored as is",
    (PROMPT_USER, "department"): "the Prompt department the user is placed in; "
    "new users get prompt.default_department",
    (PROMPT_USER, "section"): "the Prompt section within the department; new "
    "users get prompt.default_section",
}
# difflib ratio from which a known path is offered as "did you mean".
_CLOSE_ENOUGH = 0.75
_STORED = (
    "Prompt's SCIM service stores the RFC 7643 User attributes, the enterprise "
    f"extension ({ENTERPRISE_USER}:<attribute>) and {PROMPT_USER}:department and "
    ":section; GET /Schemas on the service lists them"
)


def target_problem(target: str) -> str | None:
    """Return why `target` is not a User attribute path the service stores, or None.

    Paths are `attr`, `attr.sub`, `attr[sub eq "x"].sub` (Entra's value paths),
    each optionally after a schema URN and a colon; names are case-insensitive.
    """
    resolved = _resolve(target)
    return resolved if isinstance(resolved, str) else None


def canonical_target(target: str) -> str | None:
    """Return the path with canonical names and URN, None when it is not valid."""
    resolved = _resolve(target)
    return None if isinstance(resolved, str) else resolved[0]


def _resolve(target: str) -> tuple[str] | str:
    """Return (canonical path,) or the problem with `target`."""
    urn, rest = _split_urn(target)
    if rest is None:
        schema = target.rpartition(":")[0]
        return _unknown(target, f"{schema!r} is not a User schema of the service")
    assert rest is not None

    match = _PATH.match(rest)
    if match is None:
        return _unknown(target, f"{target!r} is not a SCIM attribute path")
    found = _lookup(urn, match["attr"])
    if found is None:
        return _not_found(target, urn, match["attr"])

    owner, attr = found
    problem = _shape_problem(target, owner, attr, match)
    if problem is not None:
        return problem
    return (_canonical(owner, attr, match),)


def _split_urn(target: str) -> tuple[str | None, str | None]:
    """Return (canonical schema URN or None, the rest); (None, None): unknown URN."""
    if not target.lower().startswith("urn:"):
        return None, target
    for urn in SCHEMAS:
        if target.lower().startswith(urn.lower() + ":"):
            return urn, target[len(urn) + 1 :]
    return None, None


def _lookup(urn: str | None, name: str) -> tuple[str, Attribute] | None:
    """Find `name` in the URN's schema; unqualified: core and common attributes."""
    schemas = [urn] if urn is not None else [CORE_USER]
    for schema in schemas:
        for attr in SCHEMAS[schema] + (COMMON if schema == CORE_USER else ()):
            if attr.name.lower() == name.lower():
                return schema, attr
    return None


def _shape_problem(
    target: str, owner: str, attr: Attribute, match: re.Match[str]
) -> str | None:
    """Check read-only, value paths and sub-attributes of a found attribute."""
    fattr, sub = match["fattr"], match["sub"]
    if attr.read_only:
        return (
            f"{attr.name} is assigned by the SCIM service (read-only, RFC 7643 "
            "3.1); Entra cannot set it: map another attribute"
        )
    if fattr is not None:
        return _value_path_problem(target, attr, match)
    if sub is not None and attr.sub(sub) is None:
        return _unknown(target, f"{attr.name} has no sub-attribute {sub!r}")
    if sub is not None and attr.multi_valued:
        return (
            f"{attr.name} is multi-valued: select one value with a value path, "
            f'e.g. {attr.name}[type eq "work"].{attr.sub(sub)}'
        )
    if sub is None and attr.subs and not attr.multi_valued:
        if (owner, attr.name) in _TAKES_A_BARE_VALUE:
            return None
        return (
            f"{attr.name} is complex: map its sub-attributes, e.g. "
            f"{_prefix(owner)}{attr.name}.{attr.subs[0]}"
        )
    return None


def _value_path_problem(
    target: str, attr: Attribute, match: re.Match[str]
) -> str | None:
    fattr, op, sub = match["fattr"], match["op"], match["sub"]
    if not attr.multi_valued:
        return (
            f"{attr.name} is single-valued: a [filter] selects one of several "
            f"values; write {attr.name}" + (f".{sub}" if sub else "")
        )
    if op.lower() != "eq":
        return f'Entra\'s value paths compare with eq: {attr.name}[type eq "work"]'
    if attr.sub(fattr) is None:
        return _unknown(target, f"{attr.name} has no sub-attribute {fattr!r}")
    if sub is None and attr.sub("value") is None:
        return (
            f"{attr.name} has no value of its own: name the sub-attribute, e.g. "
            f'{attr.name}[{fattr} eq "{match["fval"]}"].{attr.subs[0]}'
        )
    if sub is not None and attr.sub(sub) is None:
        return _unknown(target, f"{attr.name} has no sub-attribute {sub!r}")
    return None


def _canonical(owner: str, attr: Attribute, match: re.Match[str]) -> str:
    text = f"{_prefix(owner)}{attr.name}"
    if match["fattr"] is not None:
        text += f'[{attr.sub(match["fattr"])} eq "{match["fval"]}"]'
    if match["sub"] is not None:
        text += f".{attr.sub(match['sub'])}"
    return text


def _prefix(owner: str) -> str:
    return "" if owner == CORE_USER else f"{owner}:"


def _not_found(target: str, urn: str | None, name: str) -> str:
    """An unknown name; a bare extension name points at its URN-qualified forms."""
    if urn is None:
        forms = [
            (schema, attr.name)
            for schema in (ENTERPRISE_USER, PROMPT_USER)
            for attr in SCHEMAS[schema]
            if attr.name.lower() == name.lower()
        ]
        if forms:
            written = " or ".join(
                f"{schema}:{attr}"
                + (
                    f" ({_MEANINGS[(schema, attr)]})"
                    if (schema, attr) in _MEANINGS
                    else ""
                )
                for schema, attr in forms
            )
            return (
                f"{name} is not a core User attribute; extension attributes are "
                f"written with their schema URN: {written}"
            )
    where = _SHORT_NAMES[urn] if urn is not None else "the core User schema"
    return _unknown(target, f"{name!r} is not an attribute of {where}")


def _unknown(target: str, why: str) -> str:
    guesses = _closest(target)
    if guesses:
        return f"{why}; did you mean {' or '.join(guesses)}?"
    return f"{why}. {_STORED}"


def _closest(target: str) -> list[str]:
    """Up to two known paths close to `target`; extensions also by bare name."""
    candidates: list[tuple[str, str]] = []
    for urn, attributes in SCHEMAS.items():
        for attr in attributes:
            for path in _example_paths(urn, attr):
                candidates.append((path.lower(), path))
                if urn != CORE_USER:
                    candidates.append((path.rpartition(":")[2].lower(), path))
    candidates += [(a.name.lower(), a.name) for a in COMMON if not a.read_only]

    wanted = target.lower()
    scored = sorted(
        (
            (difflib.SequenceMatcher(None, wanted, text).ratio(), path)
            for text, path in candidates
        ),
        key=lambda item: -item[0],
    )
    found: list[str] = []
    for ratio, path in scored:
        if ratio < _CLOSE_ENOUGH or len(found) == 2:
            break
        if path not in found:
            found.append(path)
    return found


def _example_paths(urn: str, attr: Attribute) -> list[str]:
    prefix = _prefix(urn)
    if attr.multi_valued:
        kind = "mobile" if attr.name == "phoneNumbers" else "work"
        subs = ["value"] if attr.sub("value") else [s for s in attr.subs if s != "type"]
        return [f'{prefix}{attr.name}[type eq "{kind}"].{sub}' for sub in subs]
    if attr.subs and (urn, attr.name) not in _TAKES_A_BARE_VALUE:
        return [f"{prefix}{attr.name}.{sub}" for sub in attr.subs]
    return [f"{prefix}{attr.name}"]
