"""The DDP sub-check of `litgen check --deep`: a fit on forked CPU processes (gloo), judged from each rank."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from litgen._probe_deep_record import rank_error, rank_records, watch_ranks
from litgen._probe_deep_util import DeepFailure, DeepProbe, Outcome

DDP_ALLOWANCE_S = 30.0  # a DDP fit may take this long plus DDP_FACTOR times the 1-process fit
DDP_FACTOR = 5.0


def ddp_check(probe: DeepProbe) -> Outcome:
    """Fit on DEVICES forked CPU processes; every rank must run as many steps and finish."""
    if probe.devices < 2:
        return "skipped", "--devices 1 asks for no DDP run"
    spent = probe.fitted.elapsed_s if probe.fitted is not None else 10.0
    budget = min(probe.deadline - time.monotonic() - 2.0, DDP_ALLOWANCE_S + DDP_FACTOR * spent)
    if budget < 5:
        raise DeepFailure("no time left for the DDP fit within --timeout")
    find_unused = "find_unused_parameters_true" in str(probe.program_kwargs.get("strategy", ""))
    rank_dir, failure, expired = _ddp_fit(probe, "ddp", budget, find_unused)
    if failure is not None and not find_unused and "find_unused_parameters" in str(failure):
        # Programs with manual optimization typically pick DDP's find_unused_parameters variant
        # when asked for 'ddp' (only given a DDP strategy by name can they): check with it, and
        # say so.
        probe.note(
            "the DDP fit needed find_unused_parameters=True (some parameters get no gradient in a step); "
            "the program's own DDP runs must use strategy='ddp_find_unused_parameters_true'"
        )
        rank_dir, failure, expired = _ddp_fit(probe, "ddp-find-unused", budget, True)
    ranks = rank_records(rank_dir)
    steps = ", ".join(f"rank {rank} ran {ranks[rank]['batches']}" for rank in sorted(ranks))
    planned = {rank: record.get("planned") for rank, record in ranks.items()}
    if (
        len(ranks) == probe.devices
        and None not in planned.values()
        and len(set(planned.values())) > 1
    ):
        per_rank = ", ".join(f"rank {rank}: {planned[rank]}" for rank in sorted(planned))
        raise DeepFailure(
            f"the {probe.devices} DDP processes get different numbers of training batches per epoch ({per_rank}), "
            "so they wait for each other forever; keep use_distributed_sampler=True or "
            "give every rank as many batches"
        )
    counts = {record["batches"] for record in ranks.values()}
    if failure is None and len(counts) > 1:
        raise DeepFailure(
            f"the {probe.devices} DDP processes took different numbers of training steps ({steps})"
        )
    label = f"the {probe.devices}-process DDP fit (gloo, CPU)"
    if expired:
        raise DeepFailure(
            f"{label} did not finish within {budget:.0f} s: its processes hung ({steps or 'no rank started'})"
        )
    if failure is not None:
        raise DeepFailure(f"{label} failed: {rank_error(failure)}")
    if len(ranks) != probe.devices or not all(record["finished"] for record in ranks.values()):
        raise DeepFailure(
            f"{label} ended without every rank finishing its fit ({steps or 'no rank started'})"
        )
    expected = set(probe.fitted.metrics) if probe.fitted is not None else set()
    missing = sorted(expected - set(ranks[0]["metrics"]))
    if missing:
        raise DeepFailure(
            f"rank 0 of {label} has no {', '.join(missing)}, which the 1-process fit logged "
            "(a metric logged only on some ranks?)"
        )
    metrics = f"; rank 0 logged {', '.join(ranks[0]['metrics'])}" if ranks[0]["metrics"] else ""
    return (
        "pass",
        f"{probe.devices} processes (gloo) x {ranks[0]['batches']} steps each{metrics}",
    )


def _ddp_fit(
    probe: DeepProbe, name: str, budget: float, find_unused: bool
) -> tuple[Path, BaseException | None, bool]:
    """One DDP fit of forked CPU processes, killed after BUDGET s: its rank folder, failure, and
    whether it ran out of time.
    """
    rank_dir = probe.run_dir / f"{name}-ranks"
    rank_dir.mkdir(parents=True, exist_ok=True)
    # fork: the ranks inherit the program's objects (and the probe), no script re-run; the timeout
    # makes a collective one rank never reaches fail instead of hanging
    strategy = probe.lightning("strategies").DDPStrategy(
        start_method="fork",
        process_group_backend="gloo",
        timeout=timedelta(seconds=budget),
        find_unused_parameters=find_unused,
    )
    trainer, _ = probe.trainer(
        name,
        epochs=probe.epochs,
        devices=probe.devices,
        strategy=strategy,
        rank_dir=str(rank_dir),
    )
    stopped, expired = threading.Event(), threading.Event()
    watch = threading.Thread(
        target=watch_ranks,
        args=(rank_dir, probe.devices, time.monotonic() + budget, stopped, expired),
        daemon=True,
    )
    watch.start()
    failure: BaseException | None = None
    try:
        probe.run_fit(trainer)
    except Exception as error:  # noqa: BLE001 - judged by the caller, with what each rank recorded
        failure = error
    finally:
        stopped.set()
        watch.join()
    return rank_dir, failure, expired.is_set()
