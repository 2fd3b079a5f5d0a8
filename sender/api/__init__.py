"""Sending from other systems and planning sends: API tokens and the JSON API, scheduled
broadcasts, message templates with placeholders, and per-method opt-out."""
