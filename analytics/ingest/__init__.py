"""CRM exports -> the canonical model. See docs/data-model.md for what lands where."""

from analytics.ingest.detect import Mapping, detect, load_formats
from analytics.ingest.engine import (
    ImportResult,
    Preview,
    import_file,
    preview_file,
    propose_stages,
)
from analytics.ingest.history import import_history, import_warnings, quarantined_rows
from analytics.ingest.kinds import KINDS
from analytics.ingest.learn import LearnedStage
from analytics.ingest.problems import ImportRefused, Problem

__all__ = [
    "KINDS",
    "LearnedStage",
    "ImportRefused",
    "ImportResult",
    "Mapping",
    "Preview",
    "Problem",
    "detect",
    "import_history",
    "import_warnings",
    "quarantined_rows",
    "import_file",
    "load_formats",
    "preview_file",
    "propose_stages",
]
