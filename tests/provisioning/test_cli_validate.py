"""`prompt-provision validate` and `schema`: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_validate_example_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "organisations")]) == 0

    assert "example.yaml  (example)" in capsys.readouterr().out


def test_validate_bad_file_prints_error_lines_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "organisations" / "example.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("Nursing", "NO").replace("{issue: true}", "s3cr3t"))

    assert main(["validate", str(bad)]) == 1

    err = capsys.readouterr().err
    assert err.startswith("Error: 2 problems in organisation files")
    assert f"{bad}:33: prompt.token: a literal secret is not allowed" in err
    assert f"{bad}:35: prompt.default_department: YAML reads NO" in err
    assert "s3cr3t" not in err
    assert "Traceback" not in err


def test_validate_without_paths_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate"]) == 2

    assert "Missing argument" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error() -> None:
    assert main(["validate", "--nope", "x.yaml"]) == 2


def test_schema_command_prints_the_committed_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema"]) == 0

    printed = json.loads(capsys.readouterr().out)
    committed = json.loads((ROOT / "provisioning/organisation.schema.json").read_text())
    assert printed == committed
