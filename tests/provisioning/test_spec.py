"""Organisation file: defaults of the seed article, strict validation, JSON Schema."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from provisioning.errors import OrganisationFileInvalid, SecretUnavailable
from provisioning.spec import (
    DEFAULT_USER_ATTRIBUTES,
    SLUG_PATTERN,
    SecretRef,
    json_schema,
    load_organisation,
    load_paths,
)
from scim_service.api.scim import ENDPOINTS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "organisations" / "example.yaml"
SCHEMA_FILE = ROOT / "provisioning" / "organisation.schema.json"

MINIMAL = """\
organisation: acme
display_name: Acme Health
prompt:
  scim_url: https://prompt.example.com/scim/v2
  token: {env: PROMPT_SCIM_TOKEN_ACME}
  default_department: Nursing
  default_section: Ward 3
entra:
  tenant_id: 11111111-2222-3333-4444-555555555555
"""


def write(tmp_path: Path, text: str, name: str = "org.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(OrganisationFileInvalid) as caught:
        load_organisation(path)
    return [str(problem) for problem in caught.value.problems]


def test_defaults_reproduce_the_seed_article(tmp_path: Path) -> None:
    spec = load_organisation(write(tmp_path, MINIMAL))

    assert spec.provisioning.enabled is True
    assert spec.provisioning.scope == "assigned"
    assert spec.provisioning.groups is False
    assert spec.provisioning.matching == "userName"
    assert list(spec.provisioning.user_attributes.items()) == [
        ("userName", "userPrincipalName"),
        ("active", 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'),
        ("displayName", "displayName"),
        ("name.givenName", "givenName"),
        ("name.familyName", "surname"),
        ('emails[type eq "work"].value', "mail"),
        ("externalId", "objectId"),
    ]
    assert spec.application_name == "Prompt (Acme Health)"
    assert spec.assignments.users == []


def test_example_is_valid_and_spells_out_the_defaults() -> None:
    spec = load_organisation(EXAMPLE)

    assert spec.organisation == "example"
    assert spec.prompt.token.issue is True
    assert spec.provisioning.user_attributes == DEFAULT_USER_ATTRIBUTES
    assert spec.assignments.users == ["alice@example.org"]


def test_example_passes_the_committed_json_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    data = yaml.safe_load(EXAMPLE.read_text())

    jsonschema.Draft202012Validator(schema).validate(data)


def test_committed_json_schema_is_current() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())

    assert committed == json_schema(), (
        "provisioning/organisation.schema.json is stale: regenerate it with "
        "`prompt-provision schema > provisioning/organisation.schema.json`"
    )


TENANT = "  tenant_id: 11111111-2222-3333-4444-555555555555"
BAD = [
    ("  default_department: Nursing", "  default_department: NO", 6,
     "prompt.default_department", 'YAML reads NO as a boolean'),
    ("  default_department: Nursing", "  default_department: yes", 6,
     "prompt.default_department", 'quote it: "yes"'),
    ("  default_section: Ward 3", "  default_section: 0123", 7,
     "prompt.default_section", "YAML reads 0123 as a number"),
    ("  default_section: Ward 3", "  default_section: 1e5", 7,
     "prompt.default_section", "YAML reads 1e5 as a number"),
    ("  default_section: Ward 3", "  default_section: ~", 7,
     "prompt.default_section", "has no value"),
    ("  default_section: Ward 3", "  default_section: 2024-01-02", 7,
     "prompt.default_section", "as a date"),
    ("display_name: Acme Health", "display_name: Acme Health\ncolour: blue", 3,
     "colour", "unknown key; allowed here: organisation, display_name"),
    ("  default_section: Ward 3", "  default_section: Ward 3\n  sections: []", 8,
     "prompt.sections", "unknown key"),
    (TENANT, "  tenant_id: acme.onmicrosoft.com",
     9, "entra.tenant_id", "must be the Entra tenant id, a GUID"),
    ("  scim_url: https://prompt.example.com/scim/v2",
     "  scim_url: http://prompt.example.com/scim/v2", 4, "prompt.scim_url",
     "must be an https:// URL"),
    ("  scim_url: https://prompt.example.com/scim/v2", "  scim_url: ftp://x.example", 4,
     "prompt.scim_url", "https://"),
    ("  token: {env: PROMPT_SCIM_TOKEN_ACME}", "  token: pscim_s3cr3t", 5,
     "prompt.token", "use a reference: {env: NAME}, {file: path} or {issue: true}"),
    ("  token: {env: PROMPT_SCIM_TOKEN_ACME}", "  token: {env: A, file: b}", 5,
     "prompt.token", "exactly one of"),
    ("  token: {env: PROMPT_SCIM_TOKEN_ACME}", "  token: {issue: true}", 3,
     "prompt", "needs admin_url"),
    ("organisation: acme", "organisation: Acme_Corp", 1, "organisation",
     "lowercase letters, digits and hyphens"),
    ("organisation: acme", "organisation: users", 1, "organisation",
     "SCIM endpoint name"),
    ("display_name: Acme Health", "display_name: Acme Health\ndisplay_name: Other", 3,
     "display_name", "duplicate key"),
    ("display_name: Acme Health\n", "", 1, "display_name", "is required"),
    ("  default_department: Nursing", '  default_department: "   "', 6,
     "prompt.default_department", "is blank; give a value"),
    ("display_name: Acme Health", "display_name: '\t'", 2, "display_name",
     "is blank; give a value"),
    ("  tenant_id: 11111111-2222-3333-4444-555555555555",
     "  tenant_id: 11111111-2222-3333-4444-555555555555\n"
     "provisioning:\n  matching: externalId\n  user_attributes: {userName: mail}",
     10, "provisioning", "matching attribute 'externalId'"),
    ("  tenant_id: 11111111-2222-3333-4444-555555555555",
     TENANT + "\nprovisioning:\n  enabled: 'yes'",
     11, "provisioning.enabled", "valid boolean"),
    ("  tenant_id: 11111111-2222-3333-4444-555555555555",
     TENANT + "\nprovisioning:\n  scope: everyone",
     11, "provisioning.scope", "'assigned' or 'all'"),
    ("  tenant_id: 11111111-2222-3333-4444-555555555555",
     "  tenant_id: 11111111-2222-3333-4444-555555555555\n"
     "assignments:\n  users: [alice@acme.example, Alice@acme.example]",
     11, "assignments.users", "lists a principal twice"),
    (TENANT,
     TENANT + "\nprovisioning:\n  user_attributes:\n    userName: userPrincipalName\n"
     "    active: Switch([IsSoftDeleted], , \"False\"",
     13, "provisioning.user_attributes.active", "missing ')' to close Switch("),
    (TENANT,
     TENANT + "\nprovisioning:\n  user_attributes:\n    userName: userPrincipalName\n"
     "    active: IsSoftDeleted\n    title: Frobnicate([jobTitle])",
     14, "provisioning.user_attributes.title", "unknown function 'Frobnicate'"),
    (TENANT, TENANT + "\nassignments:\n  users:\n", 11, "assignments.users",
     "has no value (YAML reads it as null)"),
    (TENANT, TENANT + "\nprovisioning:\n  enabled: yes", 11, "provisioning.enabled",
     "write true or false: PyYAML reads yes as a boolean"),
    (TENANT, TENANT + "\nprovisioning:\n  groups: Off", 11, "provisioning.groups",
     "write true or false"),
    ("  token: {env: PROMPT_SCIM_TOKEN_ACME}", "  token: {env: 9-lives}", 5,
     "prompt.token", "env must name an environment variable"),
    ("  token: {env: PROMPT_SCIM_TOKEN_ACME}",
     "  admin_url: https://prompt.example.com/admin\n  token: {issue: on}", 6,
     "prompt.token.issue", "write true or false"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), BAD)
def test_bad_file_is_reported_with_file_line_and_key(
    tmp_path: Path, old: str, new: str, line: int, key: str, message: str
) -> None:
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))

    problems = problems_of(path)

    assert any(
        p.startswith(f"{path}:{line}: {key}:") and message in p for p in problems
    ), problems


@pytest.mark.parametrize(
    "token",
    [
        "pscim_do_not_echo_me",
        "{env: pscim_do_not_echo_me}",
        "{file: pscim_do_not_echo_me}",
        "'pscim_do_not_echo_me'",
    ],
)
def test_literal_secret_is_never_repeated(tmp_path: Path, token: str) -> None:
    text = MINIMAL.replace("{env: PROMPT_SCIM_TOKEN_ACME}", token)

    with pytest.raises(OrganisationFileInvalid) as caught:
        load_organisation(write(tmp_path, text))

    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{tmp_path / 'org.yaml'}:5: prompt.token:")
    assert "pscim_do_not_echo_me" not in str(caught.value)
    assert "pscim_do_not_echo_me" not in repr(caught.value.problems)


def test_all_problems_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("Nursing", "NO")
        .replace("Ward 3", "0123")
        .replace("11111111-2222", "bad")
        .replace("https://prompt", "http://prompt")
    )

    problems = problems_of(write(tmp_path, text))

    assert len(problems) == 4
    assert [int(p.split(":")[1]) for p in problems] == [4, 6, 7, 9]


def test_quoted_values_are_text(tmp_path: Path) -> None:
    text = MINIMAL.replace("Nursing", '"NO"').replace("Ward 3", "'0123'")

    spec = load_organisation(write(tmp_path, text))

    assert spec.prompt.default_department == "NO"
    assert spec.prompt.default_section == "0123"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/scim/v2",
        "http://127.9.9.9/scim/v2",
        "http://localhost:9/scim/v2",
        "http://[::1]:8000/scim/v2",
    ],
)
def test_plain_http_is_allowed_on_loopback(tmp_path: Path, url: str) -> None:
    text = MINIMAL.replace("https://prompt.example.com/scim/v2", url)

    assert load_organisation(write(tmp_path, text)).prompt.scim_url == url


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, MINIMAL + "  bad: [unclosed\n"))

    assert len(problems) == 1
    assert ":11: not valid YAML" in problems[0]
    assert "on line 10" in problems[0]


def test_duplicate_slugs_across_a_folder(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.yaml")
    write(tmp_path, MINIMAL.replace("Acme Health", "Acme Two"), "b.yml")

    with pytest.raises(OrganisationFileInvalid) as caught:
        load_paths([tmp_path])

    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{tmp_path / 'b.yml'}:1: organisation:")
    assert "already used by" in problem.message


def test_folder_errors_of_every_file_are_reported(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL.replace("Nursing", "NO"), "a.yaml")
    write(tmp_path, MINIMAL.replace("acme", "beta").replace("Ward 3", "1e5"), "b.yaml")
    write(tmp_path, MINIMAL.replace("acme", "gamma"), "c.yaml")

    with pytest.raises(OrganisationFileInvalid) as caught:
        load_paths([tmp_path])

    assert sorted(p.path.name for p in caught.value.problems) == ["a.yaml", "b.yaml"]


def test_hidden_files_in_a_folder_are_left_alone(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "acme.yaml")
    write(tmp_path, MINIMAL.replace("Nursing", "NO"), ".#acme.yaml")
    hidden = write(tmp_path, MINIMAL.replace("acme", "beta"), ".beta.yaml")

    loaded = load_paths([tmp_path])

    assert [spec.organisation for _, spec in loaded] == ["acme"]
    assert [spec.organisation for _, spec in load_paths([hidden])] == ["beta"]


def test_load_paths_takes_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "orgs"
    folder.mkdir()
    write(folder, MINIMAL, "acme.yaml")
    single = write(tmp_path, MINIMAL.replace("acme", "beta"), "beta.yaml")

    loaded = load_paths([folder, single])

    assert [spec.organisation for _, spec in loaded] == ["acme", "beta"]


def test_secret_ref_resolves_env_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPT_TEST_TOKEN", "from-env")
    (tmp_path / "token.txt").write_text("from-file\n")

    assert SecretRef(env="PROMPT_TEST_TOKEN").resolve(tmp_path) == "from-env"
    assert SecretRef(file="token.txt").resolve(tmp_path) == "from-file"
    assert SecretRef(issue=True).resolve(tmp_path) is None


def test_secret_ref_missing_source_is_actionable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPT_TEST_UNSET", raising=False)

    with pytest.raises(SecretUnavailable, match="PROMPT_TEST_UNSET is not set"):
        SecretRef(env="PROMPT_TEST_UNSET").resolve(tmp_path)
    with pytest.raises(SecretUnavailable, match="Cannot read the token file"):
        SecretRef(file="missing.txt").resolve(tmp_path)


def test_a_file_named_twice_is_loaded_once(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, "acme.yaml")

    loaded = load_paths([tmp_path, tmp_path / "." / "acme.yaml", path])

    assert [spec.organisation for _, spec in loaded] == ["acme"]


@pytest.mark.parametrize("blank", ["   ", "\t", "\n \n"])
def test_whitespace_only_secret_counts_as_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    monkeypatch.setenv("PROMPT_TOK", blank)
    (tmp_path / "token.txt").write_text(blank)

    with pytest.raises(SecretUnavailable, match="PROMPT_TOK is not set or empty"):
        SecretRef(env="PROMPT_TOK").resolve(tmp_path)
    with pytest.raises(
        SecretUnavailable, match=r"is empty \(or holds only whitespace\)"
    ):
        SecretRef(file="token.txt").resolve(tmp_path)


def test_token_file_is_relative_to_the_yaml_and_must_be_a_regular_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "orgs").mkdir()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "acme.txt").write_text("code-of-acme\n")
    os.mkfifo(tmp_path / "pipe")
    base = tmp_path / "orgs"

    assert SecretRef(file="../secrets/acme.txt").resolve(base) == "code-of-acme"
    for path in ("../secrets", "../pipe", "/dev/null", "/dev/zero"):
        with pytest.raises(SecretUnavailable, match="is not a regular file"):
            SecretRef(file=path).resolve(base)


def test_token_file_that_is_no_code_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 70_000)
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00code")

    with pytest.raises(SecretUnavailable, match="larger than 64 KiB"):
        SecretRef(file="big.txt").resolve(tmp_path)
    with pytest.raises(SecretUnavailable, match="is not UTF-8 text"):
        SecretRef(file="binary.txt").resolve(tmp_path)


SCIM = "  scim_url: https://prompt.example.com/scim/v2"
URLS = [
    (SCIM, "  scim_url: https://user:p4ss@prompt.example.com/scim/v2", 4,
     "prompt.scim_url", "must not contain a user name or password"),
    (SCIM, "  scim_url: https://:p4ss@prompt.example.com/scim/v2", 4,
     "prompt.scim_url", "must not contain a user name or password"),
    (SCIM, SCIM + "\n  admin_url: https://admin:p4ss@prompt.example.com/admin", 5,
     "prompt.admin_url", "must not contain a user name or password"),
    (SCIM, "  scim_url: http://127.0.0.1@p4ss.example/scim/v2", 4,
     "prompt.scim_url", "must not contain a user name or password"),
    (SCIM, "  scim_url: https://prompt.example.com/scim/v2#p4ss", 4,
     "prompt.scim_url", "must not have a #fragment"),
    (SCIM, "  scim_url: https://prompt.example.com/scim/v2?aadOptscim062020#p4ss", 4,
     "prompt.scim_url", "must not have a #fragment"),
    (SCIM, "  scim_url: http://127.0.0.1:99999/", 4, "prompt.scim_url",
     "has an invalid port: give a number from 1 to 65535"),
    (SCIM, "  scim_url: https://prompt.example.com:0/scim/v2", 4, "prompt.scim_url",
     "has an invalid port"),
    (SCIM, "  scim_url: https://prompt.example.com:p4ss/scim/v2", 4,
     "prompt.scim_url", "has an invalid port"),
    (SCIM, SCIM + "\n  admin_url: http://127.0.0.1:70000/admin", 5,
     "prompt.admin_url", "has an invalid port"),
    (SCIM, SCIM + "\n  admin_url: https://prompt.example.com/admin?p4ss", 5,
     "prompt.admin_url", "must not have a ?query"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), URLS)
def test_urls_refuse_userinfo_fragments_and_bad_ports(
    tmp_path: Path, old: str, new: str, line: int, key: str, message: str
) -> None:
    path = write(tmp_path, MINIMAL.replace(old, new, 1))

    with pytest.raises(OrganisationFileInvalid) as caught:
        load_organisation(path)

    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}:{line}: {key}: {message}")
    assert "p4ss" not in str(caught.value)


def test_entra_query_flag_stays_allowed_on_the_tenant_url(tmp_path: Path) -> None:
    url = "https://prompt.example.com/scim/v2?aadOptscim062020"
    text = MINIMAL.replace("https://prompt.example.com/scim/v2", url)

    assert load_organisation(write(tmp_path, text)).prompt.scim_url == url


# Every word the SCIM service routes as an endpoint under /scim/v2/ (read from
# scim_service/api/scim.py ENDPOINTS, and listed here too so none is dropped).
ENDPOINT_WORDS = sorted(
    set(ENDPOINTS)
    | {"users", "groups", "schemas", "resourcetypes", "serviceproviderconfig"}
    | {"serviceproviderconfigs", "bulk", "me", ".search"}
)


@pytest.mark.parametrize("slug", ENDPOINT_WORDS)
def test_scim_endpoint_words_are_not_slugs(tmp_path: Path, slug: str) -> None:
    path = write(
        tmp_path, MINIMAL.replace("organisation: acme", f"organisation: {slug!r}")
    )

    (problem,) = problems_of(path)

    assert problem.startswith(f"{path}:1: organisation: ")
    if re.match(SLUG_PATTERN, slug):
        assert problem.endswith("is a SCIM endpoint name; choose another slug")
