"""Views: thin wrappers that parse, call the pipeline or a query function, and render."""
