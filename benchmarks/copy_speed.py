"""How much the stacks engine adds to `copier copy`: a full-stack copy against a copy of a one-file template,
both through the copier CLI in the same run. Goal: at most 1.3 times the one-file copy (copier's own start-up
should dominate).

    python benchmarks/copy_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 1.3
COPIER = [sys.executable, "-m", "copier"]


def one_file_template(folder: Path) -> Path:
    """The smallest template copier accepts: one question, one rendered file, in a git repository like ours."""
    (folder / "template").mkdir(parents=True)
    (folder / "copier.yml").write_text('_subdirectory: template\nproject_name:\n  type: str\n  default: demo\n')
    (folder / "template" / "README.md.jinja").write_text("# {{ project_name }}\n")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one file"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    return folder


def time_copy(template: Path, destination: Path, *options: str) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of copier and everything it ran): the CPU time varies far less on a
    shared machine, the wall clock is what a user waits."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([*COPIER, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref=HEAD", *options, str(template),
                    str(destination)], check=True, capture_output=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        small = one_file_template(tmp_path / "one-file")
        timings: dict[str, list[tuple[float, float]]] = {
            "one-file template": [], "stacks, no tasks": [], "stacks, full stack": []}
        for run in range(args.runs):  # interleaved, so all see the same machine load
            timings["one-file template"].append(time_copy(small, tmp_path / f"small-{run}"))
            timings["stacks, no tasks"].append(time_copy(REPO, tmp_path / f"render-{run}", "--skip-tasks"))
            timings["stacks, full stack"].append(time_copy(REPO, tmp_path / f"full-{run}"))
    medians = {name: [statistics.median(column) for column in zip(*values)] for name, values in timings.items()}
    for name, (wall, cpu) in medians.items():
        print(f"{name:20} median {wall:.2f} s wall, {cpu:.2f} s CPU, over {args.runs} runs")
    print("(no tasks: questionnaire, extensions and rendering; the difference to the full stack is the hook:"
          " assembly, .env and docker compose config)")
    for index, clock in enumerate(("wall", "CPU")):
        ratio = medians["stacks, full stack"][index] / medians["one-file template"][index]
        print(f"ratio, {clock}: {ratio:.2f} (goal: at most {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
