"""`litgen convert`: rewrite a raw PyTorch training loop into a LightningModule and a Trainer entry point."""

from litgen.convert.files import convert_path, default_output_path
from litgen.convert.pipeline import convert_source
from litgen.convert.report import Conversion, ConvertReport, Mapped, Note

__all__ = [
    "Conversion",
    "ConvertReport",
    "Mapped",
    "Note",
    "convert_path",
    "convert_source",
    "default_output_path",
]
