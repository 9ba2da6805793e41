"""How much the stacks engine adds to `copier copy`: a full-stack copy against a copy of a one-file template,
both through the copier CLI in the same run. Goal: at most 1.3 times the one-file copy (copier's own start-up
should dominate). And what `copier update` of that full stack costs (an update that changes nothing: copier
renders the template three times and merges), against its copy. Goal: at most 2.5 times the copy.

A third baseline isolates what stacks itself costs: the same repository, whose template is the files a full
stack generates, as plain files with one question, so copier clones as much and writes as many files (copier
probes git once per file it writes) without the extensions, the questionnaire, Jinja or the hook.

    python benchmarks/copy_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 1.3
UPDATE_GOAL = 2.5
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
COPIER = [sys.executable, "-m", "copier"]


def one_file_template(folder: Path) -> Path:
    """The smallest template copier accepts: one question, one rendered file, in a git repository like ours."""
    (folder / "template").mkdir(parents=True)
    (folder / "copier.yml").write_text('_subdirectory: template\nproject_name:\n  type: str\n  default: demo\n')
    (folder / "template" / "README.md.jinja").write_text("# {{ project_name }}\n")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one file"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    return folder


def snapshot_template(folder: Path) -> Path:
    """This working tree, uncommitted changes included, committed to a repository of its own: copier update
    needs the commit it copied from to exist, which a copy of a dirty tree does not give."""
    folder.mkdir(parents=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, folder / name)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True,
                       env={**os.environ, **GIT_IDENTITY})
    return folder


def same_files_template(stacks: Path, generated: Path, folder: Path) -> Path:
    """The stacks snapshot with its template replaced by `generated`'s files, plain, and a one-question copier.yml."""
    shutil.copytree(stacks, folder, ignore=shutil.ignore_patterns(".git"))
    shutil.rmtree(folder / "template")
    shutil.copytree(generated, folder / "template", ignore=shutil.ignore_patterns(".copier-answers.yml"))
    (folder / "copier.yml").write_text('_subdirectory: template\nproject_name:\n  type: str\n  default: demo\n')
    for command in (["init", "-q"], ["add", "-A", "--force"], ["commit", "-qm", "same files"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True,
                       env={**os.environ, **GIT_IDENTITY})
    return folder


def grown_catalog(stacks: Path, folder: Path, extra: int = 35) -> Path:
    """The stacks snapshot with `extra` more cache components (copies of redis under other names, each with six
    more files), all choices of the cache question: a catalog of 40 components, of which a copy uses the same five."""
    shutil.copytree(stacks, folder, ignore=shutil.ignore_patterns(".git"))
    services, questions = folder / "template" / "services", folder / "copier.yml"
    choices = []
    for index in range(extra):
        name, prefix = f"extra{index:02d}", f"EXTRA{index:02d}_"
        shutil.copytree(services / "redis", services / name)
        for file in ("component.yml", "compose.yaml.jinja"):
            text = (services / name / file).read_text().replace("REDIS_", prefix).replace("redis-data", f"{name}-data")
            text = text.replace("  redis:", f"  {name}:").replace("catalog.redis", f"catalog.{name}")
            text = text.replace('"redis"', f'"{name}"').replace("keywords: [redis]", f"keywords: [{name}]")
            text = text.replace("label: Redis", f"label: Extra {index}").replace("  cache:\n", f"  cache-{index}:\n")
            (services / name / file).write_text(text)
        for number in range(6):
            (services / name / f"file{number}.txt").write_text("x" * 2000)
        choices.append(f"    Extra {index}: {{value: {name}, validator: \"{{{{ 'cache' | choice_error('{name}') }}}}\"}}\n")
    redis_choice = "    Redis: {value: redis, validator: \"{{ 'cache' | choice_error('redis') }}\"}\n"
    questions.write_text(questions.read_text().replace(redis_choice, redis_choice + "".join(choices)))
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "40 components"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True,
                       env={**os.environ, **GIT_IDENTITY})
    return folder


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of the command and everything it ran): the CPU time varies far less on
    a shared machine, the wall clock is what a user waits."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_IDENTITY})
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_copy(template: Path, destination: Path, *options: str) -> tuple[float, float]:
    return timed([*COPIER, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref=HEAD", *options, str(template),
                  str(destination)])


def time_update(project: Path) -> tuple[float, float]:
    """`copier update` of a committed project to the version it already has."""
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "generated"]):
        subprocess.run(["git", *command], cwd=project, check=True, capture_output=True,
                       env={**os.environ, **GIT_IDENTITY})
    return timed([*COPIER, "update", "--trust", "--defaults", "--quiet", "--vcs-ref=HEAD"], cwd=project)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        small = one_file_template(tmp_path / "one-file")
        stacks = snapshot_template(tmp_path / "stacks")
        time_copy(stacks, tmp_path / "generated")
        same = same_files_template(stacks, tmp_path / "generated", tmp_path / "same-files")
        grown = grown_catalog(stacks, tmp_path / "grown")
        timings: dict[str, list[tuple[float, float]]] = {
            "one-file template": [], "same files, plain": [], "stacks, no tasks": [], "stacks, full stack": [],
            "40 in the catalog": [], "stacks, update": []}
        for run in range(args.runs):  # interleaved, so all see the same machine load
            timings["one-file template"].append(time_copy(small, tmp_path / f"small-{run}"))
            timings["same files, plain"].append(time_copy(same, tmp_path / f"same-{run}"))
            timings["stacks, no tasks"].append(time_copy(stacks, tmp_path / f"render-{run}", "--skip-tasks"))
            timings["stacks, full stack"].append(time_copy(stacks, tmp_path / f"full-{run}"))
            timings["40 in the catalog"].append(time_copy(grown, tmp_path / f"grown-{run}"))
            timings["stacks, update"].append(time_update(tmp_path / f"full-{run}"))
    medians = {name: [statistics.median(column) for column in zip(*values)] for name, values in timings.items()}
    for name, (wall, cpu) in medians.items():
        print(f"{name:20} median {wall:.2f} s wall, {cpu:.2f} s CPU, over {args.runs} runs")
    print("(no tasks: questionnaire, extensions and rendering; the difference to the full stack is the hook:"
          " assembly, .env and docker compose config)")
    for index, clock in enumerate(("wall", "CPU")):
        ratio = medians["stacks, full stack"][index] / medians["one-file template"][index]
        print(f"ratio, {clock}: {ratio:.2f} (goal: at most {GOAL})")
    for index, clock in enumerate(("wall", "CPU")):
        added = medians["stacks, full stack"][index] - medians["same files, plain"][index]
        print(f"stacks itself adds, {clock}: {added:.2f} s over copier writing the same files "
              f"({medians['stacks, full stack'][index] / medians['same files, plain'][index]:.2f} times)")
    for index, clock in enumerate(("wall", "CPU")):
        ratio = medians["40 in the catalog"][index] / medians["stacks, full stack"][index]
        print(f"the same stack from a catalog of 40, {clock}: {ratio:.2f} times (goal: flat, 1.0)")
    for index, clock in enumerate(("wall", "CPU")):
        ratio = medians["stacks, update"][index] / medians["stacks, full stack"][index]
        print(f"update / copy, {clock}: {ratio:.2f} (goal: at most {UPDATE_GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
