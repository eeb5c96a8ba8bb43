"""`python -m training`: every command is listed, the defaults are TrainConfig's, and a command runs end to end."""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys

import typer
from typer.testing import CliRunner

from model.schema.records import Audit, read
from tests.helpers import ROOT
from training.__main__ import app
from training.fitting.config import default

COMMANDS = (
    "train evaluate report candidates rescore audit guard slim ood screenshots saliency masks outlines trust "
    "robustness samples export readme"
).split()
NO_TENSORFLOW = "import sys; from training.__main__ import app; print('tensorflow' in sys.modules)"


def test_help_lists_every_command_without_loading_tensorflow():
    listed = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert listed.exit_code == 0
    assert all(f" {command} " in listed.output for command in COMMANDS)
    run = subprocess.run([sys.executable, "-c", NO_TENSORFLOW], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.stdout.strip() == "False", run.stderr


def test_the_training_options_default_to_the_train_config():
    options = typer.main.get_command(app).commands["train"].params
    paths = {
        "data_dir",
        "masks_dir",
        "extra_data_dir",
        "init_from",
    }  # no default, or a list option that defaults to None
    defaults = {option.name: option.default for option in options if option.name not in paths}
    assert len(defaults) > 10
    assert all(value == default(name) for name, value in defaults.items()), defaults


def test_a_command_runs_and_writes_its_typed_record(synthetic_dataset, tmp_path):
    out = tmp_path / "audit.json"
    ran = CliRunner().invoke(app, ["audit", "--data-dir", str(synthetic_dataset), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    written = read(Audit, out)
    assert json.loads(ran.output[ran.output.index("{") :]) == dataclasses.asdict(written.summary)


def test_a_missing_required_option_is_refused_by_name():
    refused = CliRunner().invoke(app, ["evaluate", "--out", "x.json"])
    assert refused.exit_code != 0 and "--data-dir" in refused.output


def readme_command_lines() -> list[list[str]]:
    """The arguments of every `python -m training ...` line in the README's code blocks, comments dropped."""
    lines, in_code = [], False
    for line in (ROOT / "README.md").read_text().splitlines():
        in_code = not in_code if line.startswith("```") else in_code
        if in_code and line.startswith("python -m training "):
            lines.append(shlex.split(line.split("  #")[0], comments=True)[3:])
    return lines


def test_every_command_line_in_the_readme_parses():
    commands = typer.main.get_command(app).commands
    lines = readme_command_lines()
    assert len(lines) >= 15
    for args in lines:
        commands[args[0]].make_context(args[0], args[1:])  # raises click's UsageError on an unknown option
