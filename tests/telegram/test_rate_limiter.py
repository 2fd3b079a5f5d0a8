"""The limiter every Telegram call goes through, driven on its own event loop; the callback
stands where the HTTP request would be and notes when each call went out."""

import asyncio

from sender.channels.telegram.gateway import CHATS_KEPT, ChatRateLimiter


def run(limiter: ChatRateLimiter, calls: list[list[int | str]]) -> dict[int | str, list[float]]:
    """Each inner list is one sender's calls, made one after the other (a broadcast's parts
    to one chat); all senders at once. Returns when each chat's calls went out."""
    went: dict[int | str, list[float]] = {}

    async def one_sender(chats: list[int | str]) -> None:
        for chat in chats:
            async def request(chat=chat):
                went.setdefault(chat, []).append(asyncio.get_running_loop().time())
                return True
            await limiter.process_request(request, (), {}, "sendMessage", {"chat_id": chat}, None)

    async def everyone() -> None:
        await asyncio.gather(*(one_sender(chats) for chats in calls))

    asyncio.run(everyone())
    return went


def test_two_messages_to_one_chat_are_never_closer_than_the_interval_however_the_window_waits():
    limiter = ChatRateLimiter(rate=40, chat_interval=0.3, max_retries=0)
    # 35 chats get one message and queue first; chat 999's first part waits behind them all,
    # its next parts find the window empty: the window's wait shrinks from long to nothing.
    went = run(limiter, [[chat] for chat in range(1, 36)] + [[999] * 3])

    times = went[999]
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.3
    every = sorted(t for ts in went.values() for t in ts)
    assert max(sum(1 for t in every if start <= t < start + 1) for start in every) <= 40


def test_groups_and_channels_are_spaced_too():
    limiter = ChatRateLimiter(rate=100, chat_interval=0.2, max_retries=0)

    went = run(limiter, [[-1001] * 3, ["@news"] * 3])

    for chat in (-1001, "@news"):
        times = went[chat]
        assert min(b - a for a, b in zip(times, times[1:])) >= 0.2


def test_a_group_gets_at_most_its_share_a_minute():
    limiter = ChatRateLimiter(rate=100, chat_interval=0, max_retries=0, group_rate=3, group_period=0.5)

    times = run(limiter, [[-42] * 7])[-42]

    assert all(b - a >= 0.5 for a, b in zip(times, times[3:]))  # any 4 in a row span a period


def test_the_chat_map_forgets_idle_chats():
    limiter = ChatRateLimiter(rate=3000, chat_interval=0.001, max_retries=0)

    went = run(limiter, [list(range(1, 3 * CHATS_KEPT))])  # one chat after another, each done before the next

    assert len(went) == 3 * CHATS_KEPT - 1
    assert len(limiter.chats) <= CHATS_KEPT
