"""`litgen verify`: prove that a conversion computes what the original computed, step by step."""

from litgen.verify.options import VerifyOptions, parse_steps
from litgen.verify.report import VerifyReport
from litgen.verify.run import verify_pairs, verify_programs

__all__ = ["VerifyOptions", "VerifyReport", "parse_steps", "verify_pairs", "verify_programs"]
