"""English dates in one format everywhere (Django's own mixes "Dec. 3, 2026, 8:04 p.m." with
"12/03/2026 8:04 p.m."), day first as in the office, 24-hour: no "p.m." whose full stop
doubles at the end of a sentence."""

DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
