"""Several training processes (torchrun): the process group, gradient averaging, rank-0 decisions.

Why gradients are averaged by hand rather than through DistributedDataParallel: one IAN step runs two
backward passes over a shared trunk with two optimizers, calls the model through encode_distribution,
generator and discriminate (DDP only synchronises through its wrapper's forward), and toggles
requires_grad within the step, so DDP would need find_unused_parameters, a forward dispatcher and
still mark parameters ready once per forward. Averaging every gradient with one all_reduce after each
backward gives exactly DDP's result (the mean of the per-process gradients) on the same engine
(torch.distributed: gloo on CPUs, nccl on GPUs); every process then takes the same optimizer step
from the same parameters, so the replicas stay identical.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Processes:
    """Where this process stands among the training processes; one process: rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints, logs, grids and exports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def average_gradients(self, parameters: Iterable[nn.Parameter]) -> None:
        """Replace each gradient by its mean over the processes (one all_reduce for all of them).

        Every process runs the same code path (which terms are on depends only on the step), so the
        parameters with a gradient are the same everywhere and line up in the flat buffer.
        """
        if not self.distributed:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world_size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def broadcast_module(self, module: nn.Module) -> None:
        """Give every process the main process's parameters and buffers."""
        if not self.distributed:
            return
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)

    def main_decides(self, flag: bool, device: torch.device) -> bool:
        """The main process's `flag` on every process (e.g. stop on its clock's time limit)."""
        if not self.distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.broadcast(value, src=0)
        return bool(value.item())


def from_environment() -> Processes:
    """Rank and world size from torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK); none: one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Processes()
    return Processes(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def start(processes: Processes, device: torch.device) -> torch.device:
    """Join the process group (nccl on a GPU, gloo on CPUs); returns this process's device."""
    if not processes.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", processes.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(processes: Processes, wait: bool = True) -> None:
    """Leave the process group; with `wait`, after every process got here (the main one exports last)."""
    if processes.distributed and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()
