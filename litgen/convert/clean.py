"""Remove from moved code what Lightning now does itself (zero_grad, backward, step, moves, autocast, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import libcst as cst

from litgen.convert.clean_rules import CALL_RULES, CleanOptions, CleanRecord
from litgen.convert.context import Ctx
from litgen.convert.inline import TRANSPARENT_CONTEXTS
from litgen.convert.rules.amp import autocast_of
from litgen.convert.rules.clipping import clip_of
from litgen.convert.rules.device import MoveStripper, is_self_assignment
from litgen.convert.rules.flags import is_dry_run_test, only_breaks, record_dry_run
from litgen.convert.substitute import LineCarrier, StatementResult

__all__ = ["CleanOptions", "CleanRecord", "Cleaner", "clean"]


def _pass_block() -> cst.IndentedBlock:
    return cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])])


def _is_empty(suite: cst.BaseSuite) -> bool:
    if isinstance(suite, cst.SimpleStatementSuite):
        return all(isinstance(s, cst.Pass) for s in suite.body)
    return not suite.body


Nesting = cst.For | cst.While | cst.FunctionDef
NestingT = TypeVar("NestingT", cst.For, cst.While, cst.FunctionDef)


class Cleaner(LineCarrier):
    def __init__(self, ctx: Ctx, options: CleanOptions, record: CleanRecord) -> None:
        super().__init__(ctx.script.lines)
        self.ctx = ctx
        self.options = options
        self.record = record
        self._depth = 0  # loops and nested defs entered; break/continue inside them stay
        self.last_optimizer: str | None = None
        self._dry_runs: set[int] = set()

    # --- nesting ------------------------------------------------------------------------------
    def _enter_nested(self, node: Nesting) -> None:
        self._depth += 1

    def _leave_nested(self, original_node: NestingT, updated_node: NestingT) -> NestingT:
        """Leaving a loop or def: a body the cleaning emptied keeps a `pass`."""
        self._depth -= 1
        if _is_empty(updated_node.body):
            return updated_node.with_changes(body=_pass_block())
        return updated_node

    visit_For = visit_While = visit_FunctionDef = _enter_nested
    leave_For = leave_While = leave_FunctionDef = _leave_nested

    # --- compound statements ------------------------------------------------------------------
    def visit_If(self, node: cst.If) -> bool:
        if (
            self._depth == 0
            and is_dry_run_test(node.test)
            and only_breaks(node.body)
            and node.orelse is None
        ):
            record_dry_run(self.ctx, node.test, self.ctx.line(node))
            self._dry_runs.add(id(node))
            return False
        return True

    def leave_If(self, original_node: cst.If, updated_node: cst.If) -> StatementResult:
        if id(original_node) in self._dry_runs:
            return cst.RemoveFromParent()
        if _is_empty(updated_node.body):
            if updated_node.orelse is None:
                return cst.RemoveFromParent()
            return updated_node.with_changes(body=_pass_block())
        return updated_node

    def leave_Else(self, original_node: cst.Else, updated_node: cst.Else) -> cst.Else:
        return (
            updated_node.with_changes(body=_pass_block())
            if _is_empty(updated_node.body)
            else updated_node
        )

    def leave_With(self, original_node: cst.With, updated_node: cst.With) -> StatementResult:
        autocasts = [autocast_of(self.ctx, item) for item in original_node.items]
        transparent = self.options.mode == "eval" and all(
            self.ctx.imports.starts(
                item.item.func if isinstance(item.item, cst.Call) else item.item,
                *TRANSPARENT_CONTEXTS,
            )
            and item.asname is None
            for item in original_node.items
        )
        if all(autocasts) and self.options.mode != "epoch":
            self.record.autocasts.extend(a for a in autocasts if a is not None)
            return self._unwrap(updated_node)
        if transparent:
            return self._unwrap(updated_node)
        if _is_empty(updated_node.body):
            return cst.RemoveFromParent()
        return updated_node

    def _unwrap(self, node: cst.With) -> StatementResult:
        body: list[cst.BaseStatement]
        suite = node.body
        if isinstance(suite, cst.IndentedBlock):
            body = list(suite.body)
        else:
            assert isinstance(suite, cst.SimpleStatementSuite)
            body = [cst.SimpleStatementLine(body=list(suite.body))]
        if not body:
            return cst.RemoveFromParent()
        first = body[0]
        assert isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        body[0] = first.with_changes(leading_lines=[*node.leading_lines, *first.leading_lines])
        return cst.FlattenSentinel(body)

    # --- simple statements --------------------------------------------------------------------
    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> StatementResult:
        kept: list[cst.BaseSmallStatement] = []
        for small in updated_node.body:
            kept.extend(self._small(small, original_node))
        if not kept:
            return cst.RemoveFromParent()
        kept = [k.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for k in kept]
        # one statement became several: one line each
        if len(updated_node.body) == 1 and len(kept) > 1:
            lines = [cst.SimpleStatementLine(body=[k]) for k in kept]
            lines[0] = lines[0].with_changes(leading_lines=updated_node.leading_lines)
            lines[-1] = lines[-1].with_changes(trailing_whitespace=updated_node.trailing_whitespace)
            return cst.FlattenSentinel(lines)
        if len(kept) > 1:
            kept = [
                k.with_changes(semicolon=cst.Semicolon(whitespace_after=cst.SimpleWhitespace(" ")))
                for k in kept[:-1]
            ] + [kept[-1]]
        return updated_node.with_changes(body=kept)

    def leave_SimpleStatementSuite(
        self, original_node: cst.SimpleStatementSuite, updated_node: cst.SimpleStatementSuite
    ) -> cst.SimpleStatementSuite:
        kept: list[cst.BaseSmallStatement] = []
        for small in updated_node.body:
            kept.extend(self._small(small, original_node))
        if not kept:
            return updated_node.with_changes(body=[cst.Pass()])
        kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(body=kept)

    def _small(
        self, small: cst.BaseSmallStatement, line_node: cst.CSTNode
    ) -> list[cst.BaseSmallStatement]:
        line = self.ctx.line(line_node)
        mode = self.options.mode
        if isinstance(small, cst.Continue) and self._depth == 0:
            return [cst.Return(cst.Name("None") if self.options.continue_returns_none else None)]
        if isinstance(small, cst.Break) and self._depth == 0:
            if self.options.stop_on_break:
                stop = cst.parse_statement("self.trainer.should_stop = True")
                assert isinstance(stop, cst.SimpleStatementLine)
                return [*stop.body, cst.Return()]
            self.ctx.refuse(
                "`break` leaves the batch loop early; Lightning runs whole epochs "
                "(only a dry-run flag's break can become fast_dev_run)",
                line=line,
            )
        if isinstance(small, cst.Assign):
            if is_self_assignment(small):
                return []
            clip = clip_of(self.ctx, small.value)
            if clip is not None and mode == "auto":
                self.record.custom_clips.append(cst.SimpleStatementLine(body=[small]))
                return []
            return [small]
        if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
            return [small]
        for rule in CALL_RULES:
            kept = rule(self, small, small.value, line)
            if kept is not None:
                return kept
        return [small]


def clean(
    ctx: Ctx,
    statements: Sequence[cst.BaseStatement],
    options: CleanOptions,
    record: CleanRecord | None = None,
) -> list[cst.BaseStatement]:
    """Run the move stripper, then the cleaner, over a list of statements."""
    record = record if record is not None else CleanRecord()
    wrapper = cst.Module(
        body=[
            s
            for s in statements
            if isinstance(s, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        ]
    )
    wrapper = wrapper.visit(MoveStripper(ctx, options.batch_names))
    wrapper = wrapper.visit(Cleaner(ctx, options, record))
    return list(wrapper.body)
