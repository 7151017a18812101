"""Check bundle_excludes.py without a PyInstaller build: run the editor (offscreen) and the npe
commands with every excluded module made unimportable, as it is in the bundle.

    python packaging/check_excludes.py        (from a checkout or with npe installed; ~30 s)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
sys.path.insert(0, str(PACKAGING))
from bundle_excludes import UNUSED_PYTHON, UNUSED_QT  # noqa: E402

# Runs in a child process: hide the excluded modules (None in sys.modules: `import` raises
# ModuleNotFoundError and importlib.util.find_spec returns None, as when they are not installed),
# then run `npe ARGS`.
CHILD = """
import sys
blocked = sys.argv[1].split(",")
for name in blocked:
    sys.modules[name] = None
from npe.cli import main
status = main(sys.argv[2:])
leaked = sorted(name for name, module in sys.modules.items() if module is not None and any(name == b or name.startswith(b + ".") for b in blocked))
if leaked:
    print("loaded although excluded:", leaked, file=sys.stderr)
    status = status or 3
sys.exit(status)
"""


def main() -> int:
    root = PACKAGING.parent
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        setup = (
            "import sys, torch, numpy as np; from PIL import Image; from npe.config import ModelConfig; from npe.model import IAN, save_weights\n"
            "torch.manual_seed(0)\n"
            "config = ModelConfig(resolution=32, latent_dim=16, width=4, generator_width=4, max_channels=16, encoder_hidden=16)\n"
            f"save_weights(IAN(config).eval(), {str(work / 'tiny')!r})\n"
            "rng = np.random.default_rng(0)\n"
            f"[Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save({str(work)!r} + f'/faces/{{i}}.png') for i in range(12)]\n"
        )
        (work / "faces").mkdir()
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        subprocess.run([sys.executable, "-c", setup], check=True, env=env, cwd=work)
        weights = str(work / "tiny.safetensors")
        commands = [
            ["--screenshot", str(work / "shot.png"), "--index", "0", "--weights", weights, "--paint", "8,8,24,24"],
            ["edit", "--index", "1", "-o", str(work / "edit.png"), "--stroke", "8,8,20,20", "--weights", weights],
            ["sample", "--n", "2", "--out", str(work / "samples"), "--weights", weights],
            ["train", str(work / "faces"), "--out", str(work / "run"), "--resolution", "32", "--latent-dim", "16",
             "--width", "4", "--generator-width", "4", "--steps", "3", "--batch-size", "4", "--val-size", "4", "--threads", "1", "--quiet"],
            ["eval", "--weights", str(work / "run" / "model.safetensors"), "--data", str(work / "faces"), "--val-size", "4", "--samples", "8", "--no-pca"],
        ]
        failed = 0
        for arguments in commands:
            result = subprocess.run([sys.executable, "-c", CHILD, ",".join(UNUSED_PYTHON + UNUSED_QT), *arguments],
                                    env=env, cwd=work, capture_output=True, text=True)
            print(f"{'ok  ' if result.returncode == 0 else 'FAIL'} npe {' '.join(arguments[:1])}")
            if result.returncode != 0:
                failed += 1
                print(result.stdout[-2000:] + result.stderr[-4000:])
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
