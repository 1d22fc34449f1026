"""Lay the flattened epoch out over Lightning's hooks: epoch start/end, the steps, validation and test."""

from __future__ import annotations

import libcst as cst

from litgen.convert.clean import CleanOptions, clean
from litgen.convert.context import Ctx
from litgen.convert.inline import Env, Flattener, Item, LoopItem, Seg
from litgen.convert.loop_parts import (
    bind_batch,
    index_after_loop,
    log_call,
    plan_epochs,
    split_unit,
)
from litgen.convert.names import block_statements, code, leading_lines, taken_names
from litgen.convert.plan import ModulePlan, Unit
from litgen.convert.rules.amp import precision_option
from litgen.convert.rules.clipping import record_clip
from litgen.convert.rules.device import back_to_training, derived_batch_names
from litgen.convert.rules.limits import batch_limit
from litgen.convert.rules.metrics import insert_logs, metric_logs
from litgen.convert.rules.optim import (
    calls_in,
    discover_optimizers,
    discover_schedulers,
    refuse_never_steps,
    refuse_rebuilt_optimizers,
    refuse_without_a_model,
    step_of,
)
from litgen.convert.rules.schedule import direct_steps, is_plateau, kept_note, metric_key, register
from litgen.convert.step import StepBuilder
from litgen.convert.structure import Shape


def _segs(items: list[Item]) -> list[Seg]:
    return [item for item in items if isinstance(item, Seg)]


class EpochPlanner:
    def __init__(self, ctx: Ctx, flattener: Flattener, shape: Shape) -> None:
        self.ctx = ctx
        self.flattener = flattener
        self.shape = shape
        self.plan = ModulePlan()

    def run(self) -> ModulePlan:
        shape, env = self.shape, self.flattener.entry_env()
        epoch_item: LoopItem | None = None
        if shape.epoch_loop is not None and shape.region is not shape.epoch_loop:
            epoch_item = self._outer(env)  # the epoch loop lives in a helper or trainer method
            body, env = block_statements(epoch_item.node.body), epoch_item.env
        elif shape.epoch_loop is not None:
            epoch_item = LoopItem("epoch", shape.epoch_loop, env, self.ctx.line(shape.epoch_loop))
            if isinstance(shape.epoch_loop, cst.For):
                epoch_item.target, epoch_item.iterable = (
                    shape.epoch_loop.target,
                    shape.epoch_loop.iter,
                )
            body = block_statements(shape.epoch_loop.body)
        else:
            body = [shape.region]
        items = self.flattener.flatten(body, env)
        plan_epochs(self.ctx, self.plan, self.shape, epoch_item)
        trains = [
            i for i, item in enumerate(items) if isinstance(item, LoopItem) and item.kind == "train"
        ]
        if trains:
            before, after = items[: trains[0]], items[trains[0] + 1 :]
            found = items[trains[0]]
            assert isinstance(found, LoopItem)
            step_segs = self.flattener.flatten_body(found)
            train_item: LoopItem | None = found
        else:
            cut = self._full_batch_cut(items)
            before, step_segs, after = [], _segs(items[: cut + 1]), items[cut + 1 :]
            train_item = None
            self.plan.full_batch = True
        if any(isinstance(item, LoopItem) for item in before):
            self.ctx.refuse(
                "the script evaluates before training in each epoch; litgen expects evaluation after it",
                line=None,
            )
        refuse_rebuilt_optimizers(self.ctx, [seg.node for seg in _segs(items)])
        self._count_scheduler_steps(step_segs, items)
        self._training(train_item, step_segs)
        refuse_without_a_model(self.ctx)
        after_segs = self._evaluation(after)
        self._epoch_hooks(_segs(before), after_segs)
        return self.plan

    def _outer(self, env: Env) -> LoopItem:
        """Code around the epoch loop inside the helper runs once: before (on_fit_start) and after (on_fit_end)."""
        outer = self.flattener.flatten([self.shape.region], env)
        index = next(
            (
                i
                for i, item in enumerate(outer)
                if isinstance(item, LoopItem) and item.kind == "epoch"
            ),
            None,
        )
        if index is None:  # `Runner(model, ...).fit()`: a method of an object made on the spot
            self.ctx.refuse(
                "litgen cannot follow this call to the epoch loop (line "
                f"{self.ctx.line(self.shape.epoch_loop)}): name the object whose method it calls "
                "first (`runner = Runner(...)`, then `runner.fit()`)",
                self.shape.region,
            )
        if any(isinstance(item, LoopItem) for i, item in enumerate(outer) if i != index):
            self.ctx.refuse(
                "the helper that runs the epochs also runs another loop over the data",
                self.shape.region,
            )
        options = CleanOptions(
            "epoch", drop_switches=frozenset(), stop_on_break=False, continue_returns_none=False
        )
        self.plan.add(
            "on_fit_start", clean(self.ctx, [s.node for s in _segs(outer[:index])], options)
        )
        self.plan.add(
            "on_fit_end", clean(self.ctx, [s.node for s in _segs(outer[index + 1 :])], options)
        )
        found = outer[index]
        assert isinstance(found, LoopItem)
        return found

    # --- epochs -------------------------------------------------------------------------------
    def _full_batch_cut(self, items: list[Item]) -> int:
        steps = [
            i
            for i, item in enumerate(items)
            if isinstance(item, Seg) and any(step_of(self.ctx, c) for c in calls_in([item.node]))
        ]
        if not steps:
            refuse_never_steps(self.ctx, "loop")
        self.ctx.mapped(
            "full-batch training (no DataLoader)",
            items[steps[-1]].line if isinstance(items[steps[-1]], Seg) else None,
            "one training_step per epoch",
        )
        return steps[-1]

    def _count_scheduler_steps(self, step_segs: list[Seg], items: list[Item]) -> None:
        from litgen.convert.rules.schedule import count_steps

        count_steps(self.ctx, [s.node for s in step_segs] + [s.node for s in _segs(items)])

    # --- the training step --------------------------------------------------------------------
    def _training(self, item: LoopItem | None, segs: list[Seg]) -> None:
        statements = [s.node for s in segs]
        binding, loader = bind_batch(self.ctx, item, taken_names(statements, self.ctx.symbols))
        binding.batch_names = (
            derived_batch_names(binding.batch_names, statements) if item is not None else set()
        )
        self.plan.train_loader = loader
        discover_optimizers(self.ctx, statements)
        discover_schedulers(self.ctx, statements)
        limited = batch_limit(self.ctx, statements, binding.index_names, "train")
        segs = [seg for seg in segs if seg.node in limited]
        builder = StepBuilder(self.ctx, segs, binding)
        parts = builder.build()
        self.plan.optimizers = list(builder.stepped)
        if not self.plan.optimizers:
            self.ctx.refuse(
                "the training loop never steps an optimizer (no `optimizer.step()` found)",
                line=None,
            )
        self.plan.manual = parts.manual
        if parts.manual and len(self.plan.optimizers) > 1:
            self.ctx.warn(
                "a backward pass for one optimizer can leave another model's parameters without gradients (a "
                "discriminator step on detached fakes); on several devices pass "
                'strategy="ddp_find_unused_parameters_true" (plain DDP stops with an error)',
                item.line if item is not None else None,
            )
        self.train_record = parts.record
        for clip in parts.record.clips:
            record_clip(self.ctx, clip)
        if parts.clip_hook:
            self.ctx.mapped(
                "gradient clipping of part of the model",
                self.ctx.line(parts.clip_hook[0]),
                "configure_gradient_clipping",
            )
        precision_option(self.ctx, parts.record.autocasts, parts.record.scaled)

        batch, index = binding.batch_param, binding.index_param
        self.plan.add("on_train_batch_start", parts.batch_start, batch=batch, index=index)
        body = [*binding.prologue, *parts.body]
        self.plan.add(
            "training_step",
            body or [cst.SimpleStatementLine([cst.Pass()])],
            batch=batch,
            index=index,
        )
        self.plan.methods["training_step"].returns = parts.loss
        self.plan.add("on_before_optimizer_step", parts.before_optimizer_step)
        self.plan.add("configure_gradient_clipping", parts.clip_hook)
        if self.plan.full_batch:
            self.plan.add("on_train_epoch_end", parts.after_step)
        else:
            self.plan.add("on_train_batch_end", parts.after_step, batch=batch, index=index)
        line = item.line if item is not None else None
        self.ctx.mapped("batch loop body", line, "training_step")

    # --- evaluation ---------------------------------------------------------------------------
    def _evaluation(self, after: list[Item]) -> list[Seg]:
        evals = [i for i, item in enumerate(after) if isinstance(item, LoopItem)]
        if not evals:
            return _segs(after)
        if len(evals) > 1:
            self.ctx.refuse(
                "the script runs two evaluation loops per epoch; litgen converts one",
                after[evals[1]].node,
            )
        index = evals[0]
        item = after[index]
        assert isinstance(item, LoopItem)
        segs = _segs(after)
        position = len(_segs(after[:index]))
        prelude, epilogue = split_unit(segs[:position], segs[position:], item, self.flattener)
        loader = self.add_eval_unit("validation", item, prelude, epilogue)
        self.plan.validation = Unit(loader, item.line)
        return [s for s in segs if s not in prelude and s not in epilogue]

    def add_eval_unit(
        self, stage: str, item: LoopItem, prelude: list[Seg], epilogue: list[Seg]
    ) -> cst.BaseExpression:
        segs = self.flattener.flatten_body(item)
        statements = [s.node for s in segs]
        binding, loader = bind_batch(self.ctx, item, taken_names(statements, self.ctx.symbols))
        binding.batch_names = derived_batch_names(binding.batch_names, statements)
        statements = batch_limit(self.ctx, statements, binding.index_names, stage)
        summary = [s.node for s in epilogue]
        counted = index_after_loop(
            binding.index_names, summary, taken_names([*statements, *summary], self.ctx.symbols)
        )
        opening = [s.node for s in prelude]
        if counted is not None:  # the summary divides by the loop's last index: count the batches
            count, summary = counted
            opening.append(cst.parse_statement(f"{count} = 0\n"))
            statements = [*statements, cst.parse_statement(f"{count} += 1\n")]
        options = CleanOptions("eval", binding.batch_names)
        step = clean(self.ctx, statements, options)
        start = clean(self.ctx, opening, CleanOptions("epoch", drop_switches=frozenset({"eval"})))
        end_options = CleanOptions("epoch", stop_on_break=True, continue_returns_none=False)
        end = clean(self.ctx, summary, end_options)
        end = self._epoch_schedulers(end, stage)
        end = insert_logs(
            end,
            metric_logs(
                step, start, end, "val" if stage == "validation" else "test", self.ctx.symbols
            ),
        )
        self.plan.add(f"on_{stage}_epoch_start", start)
        self.plan.add(
            f"{stage}_step",
            [*binding.prologue, *step],
            batch=binding.batch_param,
            index=binding.index_param,
        )
        self.plan.add(f"on_{stage}_epoch_end", end)
        self.ctx.mapped(f"evaluation loop ({code(loader)})", item.line, f"{stage}_step")
        return loader

    def plan_test(self, following: list[cst.BaseStatement]) -> None:
        """An evaluation right after training (in the entry scope) becomes `trainer.test(...)`."""
        env = self.flattener.entry_env()
        for position, statement in enumerate(following):
            if not self.flattener._holds_eval(statement, env):
                continue
            items = self.flattener.flatten([statement], env)
            evals = [i for i, item in enumerate(items) if isinstance(item, LoopItem)]
            if len(evals) != 1 or any(isinstance(i, LoopItem) and i.kind == "train" for i in items):
                return
            item = items[evals[0]]
            assert isinstance(item, LoopItem)
            consumed = [statement]
            if item.env.scope != 0:
                inner = _segs(items)
                cut = len(_segs(items[: evals[0]]))
                prelude, epilogue = split_unit(inner[:cut], inner[cut:], item, self.flattener)
                leftover = [s for s in inner if s not in prelude and s not in epilogue]
                if leftover:
                    return
            else:
                # `with torch.no_grad():` around counters, the loop and the summary: they are the
                # pass too
                inner = _segs(items)
                cut = len(_segs(items[: evals[0]]))
                before = [
                    *(Seg(s, self.ctx.line(s), 0) for s in following[:position]),
                    *inner[:cut],
                ]
                after = [
                    *inner[cut:],
                    *(Seg(s, self.ctx.line(s), 0) for s in following[position + 1 :]),
                ]
                prelude, epilogue = split_unit(before, after, item, self.flattener)
                if any(seg not in prelude and seg not in epilogue for seg in inner):
                    return  # the block does more than evaluate: it stays as the script wrote it
                outside = [seg for seg in [*prelude, *epilogue] if seg not in inner]
                consumed = [
                    *[s.node for s in prelude if s in outside],
                    statement,
                    *[s.node for s in epilogue if s in outside],
                ]
            loader = self.add_eval_unit("test", item, prelude, epilogue)
            self.plan.test = Unit(loader, item.line, consumed)
            return

    # --- epoch-level code ---------------------------------------------------------------------
    def _epoch_hooks(self, before: list[Seg], after: list[Seg]) -> None:
        # with manual optimization the script's own zero_grad() calls stay
        manual = self.plan.manual
        start_options = CleanOptions(
            "epoch", drop_switches=frozenset({"train"}), stop_on_break=True
        )
        end_options = CleanOptions("epoch", drop_switches=frozenset(), stop_on_break=True)
        for options in (start_options, end_options):
            options.continue_returns_none, options.keep_zero_grad = False, manual
        start = clean(self.ctx, [s.node for s in before], start_options)
        end = clean(self.ctx, [s.node for s in after], end_options)
        end = self._epoch_schedulers(end, "train")
        end += back_to_training(self.ctx, end)
        self.plan.add("on_train_epoch_start", start)
        self.plan.add("on_train_epoch_end", end)
        if start:
            self.ctx.mapped(
                "epoch-loop code before training", before[0].line, "on_train_epoch_start"
            )
        if end:
            self.ctx.mapped(
                "epoch-loop code after training",
                after[0].line if after else None,
                "on_train_epoch_end",
            )

    def _logged_key(self, value: cst.BaseExpression) -> str | None:
        """The metric key under which the evaluation already logs `value`, if it does."""
        method = self.plan.methods.get("on_validation_epoch_end")
        for statement in method.body if method is not None else []:
            found = log_call(statement)
            if found is not None and found[1] == code(value):
                return found[0]
        return None

    def _epoch_schedulers(
        self, statements: list[cst.BaseStatement], stage: str
    ) -> list[cst.BaseStatement]:
        """`scheduler.step()` once per epoch -> interval "epoch"; `plateau.step(metric)` -> log it and monitor."""
        result: list[cst.BaseStatement] = []
        taken: set[str] = set()
        for statement in statements:
            steps = direct_steps(self.ctx, [statement])
            if not steps or self.plan.manual:
                result.append(statement)
                continue
            name, call = steps[0]
            if call.args and is_plateau(self.ctx, name):
                logged = self._logged_key(call.args[0].value)
                key = logged or metric_key(call.args[0].value, taken)
                if register(self.ctx, name, call, "epoch", monitor=key):
                    if logged is None:
                        log = cst.parse_statement(f'self.log("{key}", {code(call.args[0].value)})')
                        result.append(log.with_changes(leading_lines=leading_lines(statement)))
                    continue
            elif register(self.ctx, name, call, "epoch"):
                continue
            kept_note(self.ctx, name, self.ctx.line(call))
            result.append(statement)
        return result
