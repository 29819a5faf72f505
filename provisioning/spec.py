"""The organisation file (organisations/<org>.yaml): typed model, strict loading.

Defaults reproduce the manual procedure of the seed help article; `json_schema()` is
committed as organisation.schema.json for editors and GitOps CI.
"""

from __future__ import annotations

import os
import re
import stat
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from provisioning._hosts import is_loopback
from provisioning._scim_targets import canonical_target, target_problem
from provisioning._yaml import Loaded, Located, YamlSyntaxError, load_yaml, yaml_reading
from provisioning.errors import (
    MappingInvalid,
    OrganisationFileInvalid,
    Problem,
    SecretUnavailable,
)
from provisioning.mappings import parse_expression

__all__ = [
    "DEFAULT_USER_ATTRIBUTES",
    "Assignments",
    "EntraSettings",
    "OrganisationSpec",
    "PromptSettings",
    "ProvisioningSettings",
    "SecretRef",
    "json_schema",
    "load_organisation",
    "load_paths",
]

# The short Users mapping list of the seed article, externalId taken from objectId.
DEFAULT_USER_ATTRIBUTES: dict[str, str] = {
    "userName": "userPrincipalName",
    "active": 'Switch([IsSoftDeleted], , "False", "True", "True", "False")',
    "displayName": "displayName",
    "name.givenName": "givenName",
    "name.familyName": "surname",
    'emails[type eq "work"].value': "mail",
    "externalId": "objectId",
}

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
URL_PATTERN = r"^(https://|http://(localhost|127\.|\[::1\]))"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Codes of the bundled SCIM service start with this (scim_service TOKEN_PREFIX).
SECRET_PREFIX = "pscim_"

# The slug may become /scim/v2/{org}/ on the SCIM service (RFC 7644 section 3.2):
# every word the service routes as an endpoint there (scim_service/api/scim.py
# ENDPOINTS, matched case-insensitively) would shadow the organisation.
RESERVED_SLUGS = frozenset(
    {"users", "groups", "schemas", "resourcetypes", "bulk", "me", ".search"}
    | {"serviceproviderconfig", "serviceproviderconfigs"}
)
# A code is a few dozen characters; a bigger file is not a token file.
MAX_SECRET_FILE_BYTES = 65_536

_MESSAGES = {
    "organisation": "must be 2-63 lowercase letters, digits and hyphens, starting "
    "and ending with a letter or digit",
    "tenant_id": "must be the Entra tenant id, a GUID like "
    "11111111-2222-3333-4444-555555555555",
    "notification_email": "must be an e-mail address",
}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SecretRef(_Strict):
    """Where a secret comes from; never the secret itself."""

    model_config = ConfigDict(
        json_schema_extra={"minProperties": 1, "maxProperties": 1}
    )

    env: str | None = Field(None, description="Name of an environment variable.")
    file: str | None = Field(None, description="Path of a file (relative to the YAML).")
    issue: bool | None = Field(
        None, description="true: the bundled SCIM service issues it (needs admin_url)."
    )

    @model_validator(mode="before")
    @classmethod
    def _not_literal(cls, value: Any) -> Any:
        # The message must not repeat the value: it is the secret.
        if not isinstance(value, dict):
            raise ValueError(
                "a literal secret is not allowed; use a reference: {env: NAME}, "
                "{file: path} or {issue: true}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [name for name in ("env", "file", "issue") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of {env: NAME}, {file: path} or {issue: true}"
            )
        # A code pasted where its name or path belongs is a literal secret; the
        # message must not repeat it (errors are printed, CI logs are kept).
        reference = self.env or self.file or ""
        if reference.startswith(SECRET_PREFIX):
            raise ValueError(
                "this is a Provisioning Authentication Code, not a reference; never "
                "put the code in the file: export it and write {env: NAME}"
            )
        if self.env is not None and not ENV_NAME.match(self.env):
            raise ValueError(
                "env must name an environment variable (letters, digits and _, "
                "not starting with a digit)"
            )
        return self

    def resolve(self, base_dir: Path) -> str | None:
        """Return the secret; None for `issue` (the bundled service issues one)."""
        if self.env:
            # Whitespace alone is no code: `export TOKEN=" "` is as good as unset.
            value = os.environ.get(self.env, "").strip()
            if not value:
                raise SecretUnavailable(
                    f"Environment variable {self.env} is not set or empty; export it "
                    "with the Prompt SCIM token before running."
                )
            return value

        if self.file:
            return _read_secret_file(base_dir / self.file)

        return None

    def renewal(self, slug: str) -> str:
        """Say how to put a live code where this reference points (for errors)."""
        issue = f"prompt-scim token issue {slug} prints a new one"
        if self.env:
            return (
                f"set {self.env} to a live code of {slug!r} ({issue}) and run again; "
                f"check prompt.token if {self.env} is not the variable meant"
            )
        if self.file:
            return (
                f"put a live code of {slug!r} in {self.file} ({issue}) and run "
                f"again; check prompt.token if {self.file} is not the file meant"
            )
        return (
            f"issue a new code with prompt-provision rotate-token {slug}; if a code "
            "just issued is refused, prompt.scim_url and prompt.admin_url are not "
            "the same SCIM service"
        )

    def describe(self) -> str:
        """Say where the secret comes from, for plans (never its value)."""
        if self.env:
            return f"env {self.env}"
        if self.file:
            return f"file {self.file}"
        return "issued by the Prompt SCIM service"


def _read_secret_file(path: Path) -> str:
    """Return the stripped text of a token file; SecretUnavailable if unusable."""
    try:
        # Non-blocking, so a named pipe cannot hang the run; checked on the open
        # file, so what is checked is what is read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
            data = _read_at_most(fd, MAX_SECRET_FILE_BYTES + 1) if regular else b""
        finally:
            os.close(fd)
    except OSError as exc:
        raise SecretUnavailable(
            f"Cannot read the token file {path}: {exc.strerror}; create it or "
            "fix prompt.token.file."
        ) from None

    if not regular:
        raise SecretUnavailable(
            f"The token file {path} is not a regular file (a folder, device or "
            "pipe); point prompt.token.file at a file holding the code."
        )
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise SecretUnavailable(
            f"The token file {path} is larger than {MAX_SECRET_FILE_BYTES // 1024} "
            "KiB; it must hold only the code: fix prompt.token.file."
        )
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretUnavailable(
            f"The token file {path} is not UTF-8 text; it must hold only the code."
        ) from None
    if not value:
        raise SecretUnavailable(
            f"The token file {path} is empty (or holds only whitespace); put the "
            "code in it."
        )
    return value


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _check_url(value: str, *, query_allowed: bool) -> str:
    # Messages never repeat the URL: a password in it must not reach CI logs.
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise ValueError(
            "must not contain a user name or password (user:password@host): Entra "
            "and the engine authenticate with the token; remove it (and change "
            "that password if it was real)"
        )
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError("must be an absolute https:// URL")

    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("has an invalid port: give a number from 1 to 65535")
    if parts.fragment or "#" in value:
        raise ValueError("must not have a #fragment (it is never sent to the server)")
    if parts.query and not query_allowed:
        raise ValueError("must not have a ?query")

    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            "must use https:// (plain http is only allowed for loopback hosts: "
            "localhost, 127.0.0.0/8, ::1)"
        )
    return value.rstrip("/")


Url = Annotated[str, Field(pattern=URL_PATTERN, min_length=8)]
# Text with at least one non-blank character (pydantic's pattern is a search).
TEXT_PATTERN = r"\S"
Text = Annotated[str, Field(min_length=1, pattern=TEXT_PATTERN)]


class PromptSettings(_Strict):
    """The Prompt side: SCIM endpoint given to Entra, admin API, defaults."""

    scim_url: Url = Field(description="Tenant URL given to Entra (SCIM base URL).")
    admin_url: Url | None = Field(
        None, description="Admin API of the bundled SCIM service; manages Prompt side."
    )
    token: SecretRef = Field(description="Provisioning Authentication Code reference.")
    default_department: Text = Field(description="Department new users land in.")
    default_section: Text = Field(description="Section new users land in.")

    @field_validator("scim_url", "admin_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Entra reads flags such as ?aadOptscim062020 from the Tenant URL's query.
        query_allowed = info.field_name == "scim_url"
        if value is None:
            return None
        return _check_url(value, query_allowed=query_allowed)

    @model_validator(mode="after")
    def _issue_needs_admin(self) -> PromptSettings:
        if self.token.issue and not self.admin_url:
            raise ValueError(
                "token {issue: true} needs admin_url (the bundled SCIM service issues "
                "the token); set admin_url or use {env: NAME}/{file: path}"
            )
        return self


class EntraSettings(_Strict):
    """The customer's Entra tenant and the enterprise application's name."""

    tenant_id: Annotated[str, Field(pattern=GUID_PATTERN)] = Field(
        description="Entra tenant id (GUID)."
    )
    application_name: Text | None = Field(
        None, description='Enterprise application name; default "Prompt (<name>)".'
    )
    notification_email: Annotated[str, Field(pattern=EMAIL_PATTERN)] | None = Field(
        None, description="Who Entra e-mails on provisioning failures and quarantine."
    )


class ProvisioningSettings(_Strict):
    """The synchronization job: on/off, scope, mappings."""

    enabled: bool = Field(True, description="Job started (provisioning On).")
    scope: Literal["assigned", "all"] = Field(
        "assigned", description="assigned: only assigned users and groups (SyncAll)."
    )
    groups: bool = Field(False, description="Groups object mapping enabled.")
    matching: Text = Field("userName", description="SCIM attribute used for matching.")
    user_attributes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_USER_ATTRIBUTES),
        description="SCIM target attribute -> Entra source expression (exact list).",
    )

    @model_validator(mode="after")
    def _mappings_usable(self) -> ProvisioningSettings:
        if self.matching not in self.user_attributes:
            raise ValueError(
                f"matching attribute {self.matching!r} must be one of user_attributes"
            )
        if "active" not in self.user_attributes:
            raise ValueError(
                "user_attributes must map 'active': Entra disables users in Prompt "
                "through it"
            )
        return self


class Assignments(_Strict):
    """Who is assigned to the application (and so provisioned, scope assigned)."""

    users: list[Annotated[str, Field(pattern=EMAIL_PATTERN)]] = Field(
        default_factory=list, description="User principal names."
    )
    groups: list[Text] = Field(default_factory=list, description="Group display names.")

    @field_validator("users", "groups")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen = {item.lower() for item in value}
        if len(seen) != len(value):
            raise ValueError("lists a principal twice")
        return value


class OrganisationSpec(_Strict):
    """Desired state of one Prompt organisation and its Entra provisioning."""

    model_config = ConfigDict(
        title="Prompt organisation",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    organisation: Annotated[str, Field(pattern=SLUG_PATTERN)] = Field(
        description="Slug: names the Prompt organisation, the app marker, the stack."
    )
    display_name: Text = Field(description="Customer name shown in Prompt and Entra.")
    prompt: PromptSettings
    entra: EntraSettings
    provisioning: ProvisioningSettings = Field(default_factory=ProvisioningSettings)
    assignments: Assignments = Field(default_factory=Assignments)

    @field_validator("organisation")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_SLUGS:
            raise ValueError("is a SCIM endpoint name; choose another slug")
        return value

    @property
    def application_name(self) -> str:
        """Name of the enterprise application in Entra."""
        return self.entra.application_name or f"Prompt ({self.display_name})"


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of organisation files."""
    return OrganisationSpec.model_json_schema()


def load_organisation(path: Path) -> OrganisationSpec:
    """Load and validate one file; OrganisationFileInvalid lists every problem."""
    spec, problems = _load(path)
    if problems or spec is None:
        raise OrganisationFileInvalid(problems)
    return spec


def load_paths(paths: list[Path]) -> list[tuple[Path, OrganisationSpec]]:
    """Load files and folders (*.yaml, *.yml); report all problems of all files."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            # Hidden files are editors' and tools' (.#acme.yaml, .acme.yaml.swp).
            found = sorted(
                file
                for file in [*path.glob("*.yaml"), *path.glob("*.yml")]
                if not file.name.startswith(".")
            )
            if not found:
                problems.append(Problem(path, None, "", "no *.yaml files in folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(path, None, "", "no such file or folder"))

    loaded: list[tuple[Path, OrganisationSpec]] = []
    first_seen: dict[str, Path] = {}
    # A file named directly and through its folder is loaded once.
    unique = {file.resolve(): file for file in files[::-1]}
    for file in sorted(unique.values(), key=files.index):
        spec, file_problems = _load(file)
        problems.extend(file_problems)
        if spec is None:
            continue

        if spec.organisation in first_seen:
            problems.append(
                Problem(
                    file,
                    _slug_line(file),
                    "organisation",
                    f"slug {spec.organisation!r} is already used by "
                    f"{first_seen[spec.organisation]}; slugs must be unique",
                )
            )
            continue
        first_seen[spec.organisation] = file
        loaded.append((file, spec))

    if problems:
        raise OrganisationFileInvalid(problems)
    return loaded


def _slug_line(path: Path) -> int | None:
    try:
        return load_yaml(path.read_text(encoding="utf-8")).lines.get(("organisation",))
    except (OSError, YamlSyntaxError):
        return None


def _load(path: Path) -> tuple[OrganisationSpec | None, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path, None, "", f"cannot read file: {exc}")]

    try:
        loaded = load_yaml(text)
    except YamlSyntaxError as exc:
        return None, [Problem(path, exc.line, "", str(exc))]

    problems = [
        Problem(path, line, _dotted(where), message)
        for where, line, message in loaded.problems
    ]
    if not isinstance(loaded.data, dict):
        return None, problems or [
            Problem(path, 1, "", "must be a mapping of keys (see example.yaml)")
        ]

    problems.extend(_check_text(path, loaded, OrganisationSpec, ()))
    try:
        spec = OrganisationSpec.model_validate(loaded.data)
    except ValidationError as exc:
        problems.extend(_from_pydantic(path, loaded, exc, {p.key for p in problems}))
        spec = None
    if spec is not None:
        problems.extend(_check_expressions(path, loaded, spec))
    return (None if problems else spec), sorted(problems, key=lambda p: p.line or 0)


def _check_expressions(
    path: Path, loaded: Loaded, spec: OrganisationSpec
) -> list[Problem]:
    """Check each mapping now, so a typo is caught before any Graph call.

    A target the SCIM service does not store passes Graph and fails every user in
    Entra's cycle (400 invalidPath), so targets are checked against its schemas.
    """
    problems = []
    seen: dict[str, str] = {}
    for target, expression in spec.provisioning.user_attributes.items():
        where = ("provisioning", "user_attributes", target)
        messages = [f"SCIM target: {target_problem(target)}"]
        canonical = canonical_target(target)
        if canonical is not None:
            messages = []
            if canonical.lower() in seen:
                messages.append(
                    f"maps the same SCIM attribute as {seen[canonical.lower()]!r} "
                    "(attribute names are case-insensitive); keep one of them"
                )
            seen.setdefault(canonical.lower(), target)
        try:
            parse_expression(expression)
        except MappingInvalid as exc:
            messages.append(str(exc))
        problems += [
            Problem(path, loaded.line_of(where), _dotted(where), message)
            for message in messages
        ]
    return problems


def _check_text(path: Path, loaded: Loaded, model: Any, at: Located) -> list[Problem]:
    """Reject plain scalars YAML reads as non-text where the model expects text.

    Such values are replaced by their raw text in `loaded.data`, so pydantic
    reports only the other problems.
    """
    node = _get(loaded.data, at)
    if not isinstance(node, dict):
        return []

    problems: list[Problem] = []
    for name, info in model.model_fields.items():
        if name not in node:
            continue
        kind = _text_kind(info.annotation)
        where = (*at, name)
        if kind == "model":
            problems += _check_text(path, loaded, _model_of(info.annotation), where)
        elif kind == "text":
            problems += _check_scalar(path, loaded, where, node, name)
        elif kind == "bool":
            problems += _check_boolean(path, loaded, where, node, name)
        elif kind == "list" and isinstance(node[name], list):
            for index in range(len(node[name])):
                problems += _check_scalar(
                    path, loaded, (*where, index), node[name], index
                )
        elif kind == "dict" and isinstance(node[name], dict):
            for key in list(node[name]):
                problems += _check_scalar(path, loaded, (*where, key), node[name], key)
    return problems


def _check_scalar(
    path: Path, loaded: Loaded, where: Located, parent: Any, key: str | int
) -> list[Problem]:
    scalar = loaded.scalars.get(where)
    if scalar is None or not scalar.plain:
        return []

    reading = yaml_reading(scalar.raw)
    if reading is None:
        return []

    parent[key] = scalar.raw
    if reading.startswith("null"):
        message = (
            "has no value (YAML reads it as null); give the text or remove the key"
        )
    else:
        message = (
            f"YAML reads {scalar.raw} as {reading}, but text is expected here; "
            f'quote it: "{scalar.raw}"'
        )
    return [Problem(path, scalar.line, _dotted(where), message)]


def _check_boolean(
    path: Path, loaded: Loaded, where: Located, parent: Any, key: str
) -> list[Problem]:
    """Accept only true/false: YAML 1.2 tools read yes, no, on, off as text."""
    scalar = loaded.scalars.get(where)
    if scalar is None or not scalar.plain or scalar.raw.lower() in ("true", "false"):
        return []
    if yaml_reading(scalar.raw) != "a boolean":
        return []

    parent[key] = scalar.raw
    return [
        Problem(
            path,
            scalar.line,
            _dotted(where),
            f"write true or false: PyYAML reads {scalar.raw} as a boolean, but "
            "YAML 1.2 tools (editors, check-jsonschema) read it as text",
        )
    ]


def _text_kind(annotation: Any) -> str | None:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _text_kind(args[0])
    if origin is typing.Annotated:
        return _text_kind(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model"
    if annotation is str:
        return "text"
    if annotation is bool:
        return "bool"
    if origin is Literal and all(isinstance(a, str) for a in args):
        return "text"
    if origin is list:
        return "list" if _text_kind(args[0]) == "text" else None
    if origin is dict:
        return "dict" if _text_kind(args[1]) == "text" else None
    return None


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    raise TypeError(annotation)


def _from_pydantic(
    path: Path, loaded: Loaded, exc: ValidationError, already: set[str]
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error["loc"])
        key = _dotted(loc)
        if key in already:
            continue

        line = loaded.line_of(loc)
        scalar = loaded.scalars.get(loc)
        if scalar and scalar.plain and yaml_reading(scalar.raw) == "null (no value)":
            message = "has no value (YAML reads it as null); give one or remove the key"
        else:
            message = _message(error, loc)
        problems.append(Problem(path, line, key, message))
    return problems


def _message(error: Any, loc: Located) -> str:
    kind = error["type"]
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return f"unknown key; allowed here: {allowed}"
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch":
        if name in ("scim_url", "admin_url"):
            return "must be an https:// URL (http only for localhost/127.0.0.1/::1)"
        if loc[:2] == ("assignments", "users"):
            return "must be a user principal name like alice@example.com"
        if error.get("ctx", {}).get("pattern") == TEXT_PATTERN:
            return "is blank; give a value (or remove the key where it is optional)"
        return _MESSAGES.get(name, str(error["msg"]))
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _allowed_keys(loc: Located) -> list[str]:
    model: Any = OrganisationSpec
    for part in loc:
        field = model.model_fields.get(part)
        if field is None or _text_kind(field.annotation) != "model":
            return []
        model = _model_of(field.annotation)
    return list(model.model_fields)


def _get(data: Any, at: Located) -> Any:
    for part in at:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return None
    return data


def _dotted(loc: Located) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
