"""Hostile YAML in organisation files: aliases and tags become problems, not crashes.

Each problem names file, line and key, and the other files of a folder still get
theirs reported (provisioning/_yaml.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from provisioning.cli import main
from provisioning.errors import OrganisationFileInvalid
from provisioning.spec import load_organisation, load_paths

from .test_spec import MINIMAL, write

# The classic "billion laughs": 9**9 copies of one string from a few hundred bytes.
BILLION_LAUGHS = """\
organisation: acme
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
SELF_REFERENCE = MINIMAL.replace("prompt:\n", "prompt: &p\n").replace(
    "  default_section: Ward 3\n", "  default_section: Ward 3\n  self: *p\n"
)


def folder_problems(folder: Path) -> list[str]:
    with pytest.raises(OrganisationFileInvalid) as caught:
        load_paths([folder])
    return [str(problem) for problem in caught.value.problems]


def with_a_bad_neighbour(tmp_path: Path, text: str) -> tuple[Path, Path]:
    hostile = write(tmp_path, text, "a.yaml")
    other = write(tmp_path, MINIMAL.replace("acme", "beta").replace("Ward 3", "1e5"))
    return hostile, other


def test_billion_laughs_is_refused_quickly_and_the_folder_goes_on(
    tmp_path: Path,
) -> None:
    hostile, other = with_a_bad_neighbour(tmp_path, BILLION_LAUGHS)
    started = time.monotonic()

    problems = folder_problems(tmp_path)

    assert time.monotonic() - started < 5
    assert len(BILLION_LAUGHS) < 460
    assert problems[0].startswith(f"{hostile}:6: e: aliases (*name) expand to more")
    assert "10,000 values" in problems[0]
    assert len([p for p in problems if p.startswith(str(hostile))]) == 1
    assert any(p.startswith(f"{other}:7: prompt.default_section:") for p in problems)


def test_moderate_alias_expansion_is_capped_a_few_aliases_are_fine(
    tmp_path: Path,
) -> None:
    # Each alias of d copies 1,111 nodes: ten of them pass the cap.
    lines = ["organisation: acme", 'a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for name, prev in zip("bcd", "abc", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    (tmp_path / "big").mkdir()
    path = write(tmp_path / "big", "\n".join(lines) + "\n")
    few = MINIMAL.replace("Nursing", "&ward Nursing").replace("Ward 3", "*ward")

    problems = folder_problems(tmp_path / "big")
    spec = load_organisation(write(tmp_path, few))

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:5: d: aliases (*name) expand to more")
    assert spec.prompt.default_section == "Nursing"


def test_recursive_alias_is_a_problem_with_file_line_and_key(tmp_path: Path) -> None:
    hostile, other = with_a_bad_neighbour(tmp_path, SELF_REFERENCE)

    problems = folder_problems(tmp_path)

    assert problems[0] == (
        f"{hostile}:8: prompt.self: a YAML alias refers to a value that contains it "
        "(recursive alias); write the value out"
    )
    assert len(problems) == 2
    assert problems[1].startswith(f"{other}:7: prompt.default_section:")


@pytest.mark.parametrize("text", [BILLION_LAUGHS, SELF_REFERENCE])
def test_validate_reports_hostile_aliases_as_problems(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile, _ = with_a_bad_neighbour(tmp_path, text)

    assert main(["validate", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert err.startswith("Error: 2 problems in organisation files\n")
    assert f"  {hostile}:" in err
    assert "RecursionError" not in err


TAGS = [
    "!custom x",
    "!!python/object:os.system x",
    "!!python/object/apply:os.system [echo hi]",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!int 5",
    "!!float 1",
    "!!map {a: b}",
    "!!set {a}",
    "!<tag:example.com,2024:x> y",
]


@pytest.mark.parametrize("tagged", TAGS)
def test_tags_are_problems_with_file_and_line(
    tagged: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MINIMAL.replace("display_name: Acme Health", f"display_name: {tagged}")
    hostile, other = with_a_bad_neighbour(tmp_path, text)

    assert main(["validate", str(tmp_path)]) == 1

    err = capsys.readouterr().err.splitlines()
    assert err[0] == "Error: 2 problems in organisation files"
    assert err[1] == (
        f"  {hostile}:2: display_name: YAML tags (!name, !!type) are not allowed "
        "here; remove the tag (only !!str, which makes the value text, is accepted)"
    )
    assert err[2].startswith(f"  {other}:7: prompt.default_section:")


def test_a_tagged_section_is_a_problem(tmp_path: Path) -> None:
    text = MINIMAL.replace("prompt:\n", "prompt: !!python/object:x.Y\n")

    problems = folder_problems(write(tmp_path, text).parent)

    assert problems == [
        f"{tmp_path / 'org.yaml'}:3: prompt: YAML tags (!name, !!type) are not "
        "allowed here; remove the tag (only !!str, which makes the value text, is "
        "accepted)"
    ]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("!!str 2020-01-01", "2020-01-01"),
        ("!!str 0123", "0123"),
        ("!!str NO", "NO"),
        ("!!str ~", "~"),
    ],
)
def test_explicit_str_tag_makes_text(tmp_path: Path, written: str, value: str) -> None:
    text = MINIMAL.replace("display_name: Acme Health", f"display_name: {written}")

    spec = load_organisation(write(tmp_path, text))

    assert spec.display_name == value


def test_impossible_date_is_reported_like_a_date(tmp_path: Path) -> None:
    text = MINIMAL.replace("display_name: Acme Health", "display_name: 2020-13-45")

    problems = folder_problems(write(tmp_path, text).parent)

    assert problems == [
        f"{tmp_path / 'org.yaml'}:2: display_name: YAML reads 2020-13-45 as a date, "
        'but text is expected here; quote it: "2020-13-45"'
    ]


@pytest.mark.parametrize(("depth", "where"), [(100, ":10: deep:"), (5000, ":")])
def test_deep_nesting_is_a_problem(tmp_path: Path, depth: int, where: str) -> None:
    path = write(tmp_path, MINIMAL + "deep: " + "[" * depth + "]" * depth + "\n")

    problems = folder_problems(tmp_path)

    assert problems == [
        f"{path}{where} nested far too deeply; organisation files nest only a few "
        "levels"
    ]
