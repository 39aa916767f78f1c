"""Every `lmcollapse` command the README shows works as written: `run` and `validate` commands load their
config with the same arguments, every other command's arguments and options parse, and every file they
name exists."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lmcollapse.running.parts import load_config

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("lmcollapse "):
                commands.append(line)
    return commands


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 20 and any(c.startswith("lmcollapse reproduce paper") for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_readme_command_works_as_written(command):
    args = shlex.split(command)[1:]
    if args[0] in ("run", "validate"):
        config, sets, rest = None, [], args[1:]
        while rest:
            token = rest.pop(0)
            if token == "--set":
                sets.append(rest.pop(0))
            elif token in ("--out", "--seeds", "--workers"):
                rest.pop(0)
            elif not token.startswith("-"):
                config = ROOT / token
                assert config.is_file(), f"{token} named in the README does not exist"
        load_config(config, sets)  # the config the command would run
        return
    if args[0] == "sweep":  # plan it for real: every point's config is checked, nothing runs
        result = subprocess.run([sys.executable, "-m", "lmcollapse.cli", *args, "--dry-run"], capture_output=True,
                                text=True, cwd=ROOT)
        assert result.returncode == 0 and "every config valid" in result.stdout, result.stderr
        return
    for token in args[1:]:
        if token.startswith(("configs/", "docs/")):
            assert (ROOT / token).exists(), f"{token} named in the README does not exist"
    result = subprocess.run([sys.executable, "-m", "lmcollapse.cli", *args, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # the command and its options exist
