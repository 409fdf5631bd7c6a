"""The command line as a person meets it (issue 14): every command and option explains itself in --help, a
bad date says what a date looks like, and the load-demo progress bar is redrawn only on a terminal."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pty
import subprocess

import pytest

from service.cli.main import _parser, main
from service.cli.sandbox import load_demo
from service.demo import demo_patients
from tests.servers import FhirTestServer
from tests.test_sandbox_cli import SCRIPT


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_and_option_explains_itself(name: str) -> None:
    command = subcommands()[name]
    assert command.description, f"{name} --help has no description"
    undocumented = [a.dest for a in command._actions if not a.help]
    assert undocumented == []


def test_a_bad_date_says_what_a_date_looks_like(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--since", "2026-13-01"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "calcinosis-cds report: error: argument --since: '2026-13-01' is not a date: "
        "expected YYYY-MM-DD, e.g. 2026-01-31"
    )


def test_progress_is_one_plain_line_per_patient_when_stderr_is_not_a_terminal(fhir: FhirTestServer) -> None:
    err = io.StringIO()
    asyncio.run(load_demo(fhir.base, fhir.token, 0, err))
    patients = demo_patients()
    assert "\r" not in err.getvalue()
    assert err.getvalue().splitlines() == [
        f"{n}/{len(patients)} {p.id}" for n, p in enumerate(patients, start=1)
    ]


def test_progress_is_a_bar_redrawn_in_place_on_a_terminal(fhir: FhirTestServer) -> None:
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        subprocess.run(
            [SCRIPT, "load-demo", "--fhir-server", fhir.base, f"--token={fhir.token}"],
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=180,
            check=True,
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = terminal.read(4096)
            except OSError:  # EIO: the terminal's other end is closed and everything was read
                break
            if not chunk:
                break
            drawn += chunk
    total = len(demo_patients())
    assert drawn.count(b"\r[") == total
    assert f"[{'#' * 24}] {total}/{total}".encode() in drawn
    assert drawn.endswith(b"\r\n")  # the terminal's line discipline turns the final \n into \r\n
