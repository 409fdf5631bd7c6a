"""Where a hook call's time goes: py-spy samples the running service while the benchmark client calls it.

Run: ``.venv/bin/python -m bench.profile --observations 100 --calls 2000 [--chart plain]`` (py-spy comes with
``pip install -e '.[bench]'``; attaching needs ptrace rights: root, or ``kernel.yama.ptrace_scope=0``).
Starts ``calcinosis-cds serve``, attaches ``py-spy record`` to it, makes sequential full-prefetch calls
(the two-card chart of ``bench.run``, or ``--chart plain``: a chart with no card), each its own hookInstance,
then prints the functions holding the most samples - inclusive (the function and what it calls) and
self - and keeps the collapsed stacks (``bench/results/profile-<obs>.txt``; any flame graph tool reads
them). Idle samples (the event loop waiting on the socket) are left out.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.client import KeepAliveClient, fresh_instance
from bench.run import charts
from tests.servers import ServiceProcess

RESULTS = Path(__file__).with_name("results")
IDLE_FRAMES = ("select (selectors.py", "_run_once (asyncio/base_events.py")
TOP = 25


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("bench: py-spy is not installed (pip install -e '.[bench]')")
    return found


def _busy(stack: str) -> bool:
    leaf = stack.rsplit(";", 1)[-1]
    return not leaf.startswith(IDLE_FRAMES)


def summarize(collapsed: str) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """(inclusive samples, self samples, total busy samples) per function from collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not _busy(stack):
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return inclusive, own, total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--chart", choices=["card", "plain"], default="card", help="two cards, or none")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every thread (default: only the one holding the GIL, i.e. Python's own work, without "
        "the threads and the event loop waiting)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    output = RESULTS / f"profile-{args.chart}-{args.observations}.txt"
    body = charts(args.chart, datetime.now(UTC), (args.observations,))[args.observations]
    log_file = RESULTS / "profile-service.log"  # as deployed: default log level (info)
    with ServiceProcess(log_file=log_file, log_level="info") as service:
        client = KeepAliveClient(f"{service.url}/cds-services/calcinosis-cutis-risk")
        for _ in range(5):
            client.call(fresh_instance(body))
        command = [_py_spy(), "record", "--pid", str(service.pid), "--rate", str(args.rate)]
        command += ["--format", "raw", "--output", str(output), "--nonblocking"]
        command += [] if args.all_threads else ["--gil"]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
        time.sleep(1.0)  # let py-spy attach before the measured calls
        for _ in range(args.calls):
            client.call(fresh_instance(body))
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        _, errors = spy.communicate(timeout=30)
        client.close()
    if not output.exists():
        raise SystemExit(f"bench: py-spy wrote no profile: {errors.decode()[-500:]}")
    inclusive, own, total = summarize(output.read_text())
    print(f"{args.calls} calls, {args.observations} observations, {total} busy samples")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title}: share of busy samples")
        for frame, count in counter.most_common(TOP):
            print(f"  {count / total:6.1%}  {frame}")
    print(f"\ncollapsed stacks: {output}")


if __name__ == "__main__":
    main()
