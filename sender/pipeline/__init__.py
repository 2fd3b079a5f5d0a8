"""The send pipeline: select → resolve → classify → preview | commit → deliver.

Plain functions that views, commands and tests call alike. Work is set-based and
streamed: queries grow with batches, not recipients, and memory stays flat.
"""

from .commit import commit
from .preview import preview
from .selection import ModelSelection, Selection

__all__ = ["ModelSelection", "Selection", "commit", "preview"]
