"""Refusals in Telegram's shape: the HTTP status equals `error_code`."""


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        self.code, self.description, self.parameters = code, description, parameters


def flood(seconds: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})
