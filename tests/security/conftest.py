import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache


def _clear_own_keys() -> None:
    """Empty this run's cache only: on Redis, `cache.clear()` flushes the whole database,
    which other test runs and processes sharing the server are using."""
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clean_cache():
    """Login throttling counts in the cache; every test starts from zero."""
    _clear_own_keys()
    yield
    _clear_own_keys()
