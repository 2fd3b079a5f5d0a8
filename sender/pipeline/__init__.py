"""The send pipeline: select → resolve → classify → preview | commit → deliver.

Plain functions that views, commands and tests call alike. Work is set-based and
streamed: queries grow with batches, not recipients, and memory stays flat.
"""
