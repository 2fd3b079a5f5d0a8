import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clean_cache():
    """Login throttling counts in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()
