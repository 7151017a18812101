"""Training on several processes (npe.train.distributed, `npe train` under torchrun): each process reads
its own slice of every batch, gradients are averaged exactly, only the main process writes, resume works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from npe.config import TrainConfig
from npe.model import load_weights
from npe.train.distributed import Processes
from npe.train.loop import Trainer
from tests.train.conftest import write_aligned_photos

REPO = Path(__file__).resolve().parents[2]


def test_each_process_reads_its_own_slice_of_the_single_process_batch(tmp_path, tiny_config):
    # Image k is filled with the value 5 k, so a batch names its images (a flip changes nothing).
    images = np.repeat(np.arange(40, dtype=np.uint8)[:, None, None, None] * 5, 32 * 32 * 3).reshape(40, 32, 32, 3)

    def trainer(batch_size, processes):
        config = TrainConfig(batch_size=batch_size, threads=1)
        return Trainer(tiny_config, config, images, images[:4], tmp_path / str(processes.rank), processes=processes, log=lambda m: None)

    single = trainer(8, Processes())
    ranks = [trainer(4, Processes(rank, 2)) for rank in (0, 1)]
    assert ranks[0].global_batch == ranks[1].global_batch == single.global_batch == 8
    for _ in range(7):  # past an epoch boundary (40 images, 8 per step)
        whole = single.next_batch()
        parts = [rank.next_batch() for rank in ranks]
        assert torch.equal(torch.cat(parts), whole)
        names = [set((part[:, 0, 0, 0] + 1).mul(127.5).round().int().tolist()) for part in parts]
        assert not names[0] & names[1] and len(names[0]) == len(names[1]) == 4
    assert not (tmp_path / "1").exists()  # a process other than the main one creates nothing


def _two_process_worker(rank: int, init_file: str, results: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    processes = Processes(rank, 2)
    torch.manual_seed(rank)  # the replicas start different; broadcast_module makes them the main one's
    layer = torch.nn.Linear(3, 2)
    processes.broadcast_module(layer)
    inputs = torch.full((1, 3), float(rank + 1))
    layer(inputs).sum().backward()  # d/dW of sum(W x + b) = x on each row: rank + 1
    processes.average_gradients(layer.parameters())
    decided = processes.main_decides(rank == 0, torch.device("cpu"))
    torch.save({"weight": layer.weight.detach(), "grad": layer.weight.grad, "bias_grad": layer.bias.grad, "decided": decided},
               f"{results}/{rank}.pt")
    dist.destroy_process_group()


def test_gradients_are_averaged_exactly_and_the_main_process_decides(tmp_path):
    mp.spawn(_two_process_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"{rank}.pt", weights_only=True) for rank in (0, 1))
    assert torch.equal(first["weight"], second["weight"])
    assert torch.equal(first["grad"], torch.full((2, 3), 1.5)) and torch.equal(second["grad"], first["grad"])  # (1 + 2) / 2
    assert torch.equal(first["bias_grad"], torch.ones(2))
    assert first["decided"] is True and second["decided"] is True


def test_one_process_needs_no_process_group():
    processes = Processes()
    layer = torch.nn.Linear(2, 1)
    layer(torch.ones(1, 2)).sum().backward()
    before = layer.weight.grad.clone()
    processes.average_gradients(layer.parameters())
    assert torch.equal(layer.weight.grad, before) and processes.main_decides(False, torch.device("cpu")) is False


TINY = ["--resolution", "16", "--latent-dim", "8", "--width", "4", "--generator-width", "4", "--batch-size", "4",
        "--threads", "1", "--val-size", "4", "--device", "cpu", "--quiet"]


# gloo's C++ side once aborted one process of a finished run on a loaded CI machine ("terminate called
# without an active exception", SIGABRT; not reproduced in 12 runs under load here). That crash is
# torch's, not npe's: such a run is taken once more, from scratch (`fresh`) or from its checkpoint.
TORCH_ABORT = "terminate called without an active exception"


def _torchrun(*args: str, env: dict[str, str], cwd: Path, fresh: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "npe", "train", *args]
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and TORCH_ABORT in result.stderr:
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    return result


@pytest.mark.slow
def test_npe_train_under_torchrun_with_two_processes_learns_writes_once_and_resumes(tmp_path):
    faces = write_aligned_photos(tmp_path / "faces", 24)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"max_channels": 8, "encoder_hidden": 8, "classifier_hidden": 8},
                                  "train": {"warmup_steps": 5, "adversarial_ramp_steps": 2, "log_every": 1, "lr_generator": 2e-3}}))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NPE_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    run = tmp_path / "run"

    first = _torchrun(str(faces), "--out", str(run), "--steps", "20", "--config", str(config), *TINY, env=env, cwd=tmp_path, fresh=run)
    assert first.returncode == 0, first.stderr[-3000:]
    # Exactly one checkpoint, written by the main process; every step logged once.
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.pt")) == [Path("run/checkpoint.pt")]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    training = [record for record in records if "pixel" in record]
    assert [record["step"] for record in training] == list(range(1, 21))
    assert training[-1]["pixel"] < 0.85 * training[0]["pixel"]  # it learns
    model = load_weights(run / "model.safetensors")
    assert model.metadata["processes"] == 2 and model.metadata["steps"] == 20
    assert model.metadata["images_seen"] == 20 * 4 * 2  # 4 images per process per step
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 20

    resumed = _torchrun(str(faces), "--out", str(run), "--steps", "26", "--resume", "--threads", "1", "--quiet", env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 26
    assert load_weights(run / "model.safetensors").metadata["steps"] == 26
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records if "pixel" in record] == list(range(1, 27))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.pt")) == [Path("run/checkpoint.pt")]
