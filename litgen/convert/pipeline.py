"""`convert_source`: analyze (analysis.py) -> plan (planning.py) -> emit (assemble.py), all in memory.

Each stage hands the next one frozen data: an `Analysis` of the script, a `ConversionPlan` of the
module and the edits, and finally the converted text in a `Conversion`.
"""

from __future__ import annotations

import dataclasses

from litgen.convert.analysis import AlreadyLightning, analyze
from litgen.convert.assemble import emit
from litgen.convert.planning import plan
from litgen.convert.report import Conversion
from litgen.errors import ConversionError


def convert_source(source: str, filename: str) -> Conversion:
    """Convert one script's text; raises ConversionError naming the line of anything it cannot convert."""
    try:
        return _convert(source, filename)
    except RecursionError:
        raise ConversionError("the code nests too deeply to be analysed", path=filename) from None


def _convert(source: str, filename: str) -> Conversion:
    analysis = analyze(source, filename)
    if isinstance(analysis, AlreadyLightning):
        return Conversion(
            filename,
            source,
            source,
            already_lightning=True,
            lightning_reason=f"it imports {analysis.package}",
        )
    conversion = emit(plan(analysis))
    # the text before desugaring, for diffs and verify
    return dataclasses.replace(conversion, original=source)
