"""Command-line flags: a dry-run flag that breaks the loop -> fast_dev_run; device flags -> accelerator."""

from __future__ import annotations

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.facts import CPU_FLAG, DRY_RUN_FLAG, GPU_OPT_IN_FLAG, is_argparse_namespace
from litgen.convert.names import call_name, dotted


def is_dry_run_test(test: cst.BaseExpression) -> bool:
    """`if args.dry_run:` / `if dry_run:` / `if args.smoke_test:`."""
    name = dotted(test)
    return name is not None and bool(DRY_RUN_FLAG.search(name.rsplit(".", 1)[-1]))


def only_breaks(body: cst.BaseSuite) -> bool:
    """A block that ends the loop: `break`, maybe after a print."""
    if isinstance(body, cst.SimpleStatementSuite):
        smalls = list(body.body)
    else:
        smalls = []
        for line in body.body:
            if not isinstance(line, cst.SimpleStatementLine):
                return False
            smalls.extend(line.body)
    return (
        bool(smalls)
        and isinstance(smalls[-1], cst.Break)
        and all(isinstance(s, cst.Expr) and call_name(s.value) == "print" for s in smalls[:-1])
    )


def record_dry_run(ctx: Ctx, test: cst.BaseExpression, line: int | None) -> None:
    ctx.option("fast_dev_run", cst.Name("True"), line, condition=test)
    ctx.mapped(f"dry-run flag `{dotted(test)}`", line, "Trainer(fast_dev_run=True) when set")


def namespace_name(ctx: Ctx) -> str | None:
    """The variable that holds `parser.parse_args()`."""
    for name, bindings in ctx.facts.bindings.items():
        for binding in bindings:
            if is_argparse_namespace(binding.value):
                return name
    return None


def record_cpu_flag(ctx: Ctx) -> None:
    """Keep device flags working (`--no-cuda`, `--cuda`, `--device cpu`): the CPU when the script would choose it."""
    cpu_flags = [dest for dest in ctx.facts.arg_flags if CPU_FLAG.match(dest)]
    opt_in = [dest for dest in ctx.facts.arg_flags if GPU_OPT_IN_FLAG.match(dest)]
    chosen = [dest for dest in ctx.facts.arg_flags if dest == "device"]
    flags = [*cpu_flags, *opt_in, *chosen]
    if not flags:
        return
    devices = [name for name in ctx.facts.devices if ctx.facts.last(name) is not None]
    if devices:  # whatever the flags, the script's own device variable says where it runs
        device = sorted(devices, key=lambda n: len(ctx.facts.bindings[n]))[0]
        condition = cst.parse_expression(f'str({device}) == "cpu"')
    else:
        namespace = namespace_name(ctx)
        if namespace is None:
            return
        parts = [f"{namespace}.{flag}" for flag in cpu_flags]
        if opt_in:
            chosen_gpu = " or ".join(f"{namespace}.{flag}" for flag in opt_in)
            parts.append(f"not {chosen_gpu}" if len(opt_in) == 1 else f"not ({chosen_gpu})")
        parts += [f'{namespace}.{flag} == "cpu"' for flag in chosen]
        condition = cst.parse_expression(" or ".join(parts))
    ctx.option("accelerator", cst.SimpleString('"cpu"'), None, condition=condition)
    ctx.mapped(
        f"--{flags[0].replace('_', '-')} flag",
        None,
        'Trainer(accelerator="cpu") when the script picks the CPU',
    )
