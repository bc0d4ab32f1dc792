"""The Twitch adapter against the loopback IRC-over-websocket server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.adapters.base import SendError
from bot.adapters.twitch import TwitchAdapter
from bot.config import RoomSettings, TwitchSettings
from bot.events import ChatMessage, Gift, GuardBuy, RoomStatus, User
from tests.loopback.collect import Collector, until
from tests.loopback.common import FAST_RECONNECT
from tests.loopback.twitch import TwitchLoopback, privmsg, usernotice

CH = "qinghe_shop"


@pytest_asyncio.fixture
async def server() -> AsyncIterator[TwitchLoopback]:
    async with TwitchLoopback() as srv:
        yield srv


def make_adapter(
    server: TwitchLoopback, http: aiohttp.ClientSession, *, login: bool = False, **extra: Any
) -> TwitchAdapter:
    keys: dict[str, Any] = dict(FAST_RECONNECT, irc_url=server.url, ping_seconds=0.3, login_retry_seconds=0.3)
    if login:
        keys.update(login=server.login, oauth_token=server.token)
    keys.update(extra)
    return TwitchAdapter(
        RoomSettings(name="tw", platform="twitch", room_id=f"#{CH.upper()}"), TwitchSettings(**keys), http
    )


@pytest.mark.asyncio
async def test_anonymous_join_and_chat(server, http) -> None:
    adapter = make_adapter(server, http)
    c = Collector(adapter)
    client = await server.wait_joined(1)
    assert client.nick.startswith("justinfan") and client.password == ""
    assert client.caps == "REQ :twitch.tv/tags twitch.tv/commands"
    assert client.lines[-1] == f"JOIN #{CH}"
    await c.wait_state("connected")
    await server.send(
        privmsg(CH, "viewer1", "怎么退货", user_id="11", display_name="观众一", msg_id="m1"),
        privmsg(CH, CH, "全网最低价", user_id="22", badges="broadcaster/1", msg_id="m2"),
        privmsg(
            CH,
            "modguy",
            "\x01ACTION waves\x01",
            badges="moderator/1,subscriber/12",
            msg_id="m3",
            reply_parent=("m1", "观众一"),
        ),
        privmsg("otherchannel", "x", "not ours"),
    )
    msgs = await c.wait_count(ChatMessage, 3)
    assert [m.text for m in msgs] == ["怎么退货", "全网最低价", "waves"]
    assert (msgs[0].user.id, msgs[0].user.name, msgs[0].msg_id, msgs[0].user.roles) == ("11", "观众一", "m1", ())
    assert msgs[1].user.roles == ("anchor",) and msgs[1].user.is_anchor
    assert msgs[2].user.roles == ("moderator", "subscriber") and msgs[2].reply_to == "观众一"
    assert msgs[0].platform == "twitch" and msgs[0].room == "tw" and "PRIVMSG" in msgs[0].raw
    assert msgs[0].platform_ts is not None
    assert not adapter.can_send
    with pytest.raises(SendError, match="anonymous"):
        await adapter.send("hi")
    await c.close()
    assert c.states[-1] == "closed" and c.error is None


@pytest.mark.asyncio
async def test_ping_pong_and_keepalive(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_joined(1)
    await server.send("PING :tmi.twitch.tv")
    await until(lambda: server.pongs == [":tmi.twitch.tv"], 3)
    await until(lambda: server.pings_from_client >= 1, 3)  # our own PING every ping_seconds
    await c.close()


@pytest.mark.asyncio
async def test_subs_gifts_and_bits(server, http) -> None:
    c = Collector(make_adapter(server, http))
    await server.wait_joined(1)
    await server.send(
        usernotice(
            CH,
            "fan",
            "resub",
            "fan subscribed at Tier 2. They've subscribed for 5 months!",
            "love it",
            sub_plan="2000",
            cumulative_months=5,
            multimonth_duration=3,
        ),
        usernotice(
            CH, "giver", "submysterygift", "giver is gifting 5 Tier 1 Subs!", mass_gift_count=5, sub_plan="1000"
        ),
        usernotice(CH, "giver", "subgift", "giver gifted a sub to a", sub_plan="1000", community_gift_id="77"),
        usernotice(CH, "solo", "subgift", "solo gifted a sub to b", sub_plan="3000"),
        usernotice(CH, "raider", "raid", "5 raiders from raider have joined!"),
        privmsg(CH, "cheer", "cheer100 great show", bits=100),
    )
    await c.wait(lambda evs: sum(isinstance(e, Gift) for e in evs) >= 3)
    [sub] = c.of(GuardBuy)
    assert (sub.level, sub.months, sub.text, sub.currency) == (2, 3, "love it", "USD")
    gifts = c.of(Gift)
    assert [(g.gift_name, g.count) for g in gifts] == [("sub gift (1000)", 5), ("sub gift (3000)", 1), ("bits", 100)]
    assert gifts[2].price == pytest.approx(1.0) and gifts[2].text == "cheer100 great show"
    await c.close()


@pytest.mark.asyncio
async def test_reconnect_command_and_drop_lose_nothing(server, http) -> None:
    c = Collector(make_adapter(server, http))
    first = await server.wait_joined(1)
    await server.send(*(privmsg(CH, "v", f"a{i}") for i in range(3)))
    await c.wait_count(ChatMessage, 3)
    await server.send(":tmi.twitch.tv RECONNECT", client=first)
    second = await server.wait_joined(2)
    await server.send(*(privmsg(CH, "v", f"b{i}") for i in range(3)), client=second)
    await c.wait_count(ChatMessage, 6)
    await server.drop()
    third = await server.wait_joined(3)
    await server.send(privmsg(CH, "v", "c0"), client=third)
    await c.wait_count(ChatMessage, 7)
    await asyncio.sleep(0.05)
    assert [m.text for m in c.of(ChatMessage)] == ["a0", "a1", "a2", "b0", "b1", "b2", "c0"]
    assert c.states.count("connected") == 3
    await c.close()


@pytest.mark.asyncio
async def test_silence_is_a_dead_link(server, http) -> None:
    adapter = make_adapter(server, http, ping_seconds=0.1)
    adapter.silence_grace = 0.3
    c = Collector(adapter)
    first = await server.wait_joined(1)
    server.stall = True  # no PONG, nothing
    await until(lambda: first.ws.closed, 15)
    server.stall = False
    await server.wait_joined(2)
    assert any("Timeout" in e.detail for e in c.of(RoomStatus) if e.state == "reconnecting")
    await c.close()


@pytest.mark.asyncio
async def test_malformed_lines_are_dropped(server, http) -> None:
    adapter = make_adapter(server, http)
    c = Collector(adapter)
    client = await server.wait_joined(1)
    await client.ws.send_str("@broken-tags-no-command\r\n:prefix-only\r\n\0\0\0\r\n")
    await client.ws.send_bytes(b"\x00\x01binary")
    await server.send(privmsg(CH, "v", "ok"))
    [msg] = await c.wait_count(ChatMessage, 1)
    assert msg.text == "ok" and adapter.dropped == 4 and adapter.connections == 1
    await c.close()


@pytest.mark.asyncio
async def test_login_failure_is_clear_and_not_hammered(server, http, caplog) -> None:
    adapter = make_adapter(server, http, login="livebot", oauth_token="wrong", login_retry_seconds=60)
    with caplog.at_level(logging.ERROR):
        c = Collector(adapter)
        await c.wait_state("failed")
        await asyncio.sleep(0.3)
    assert len(server.clients) == 1  # waits login_retry_seconds before the next try
    failed = next(e for e in c.of(RoomStatus) if e.state == "failed")
    assert "Login authentication failed" in failed.detail
    assert any("rejected the login" in r.getMessage() for r in caplog.records)
    await c.close()


@pytest.mark.asyncio
async def test_send_with_reply_threading_and_rate_limit(server, http) -> None:
    adapter = make_adapter(server, http, login=True)
    c = Collector(adapter)
    client = await server.wait_joined(1)
    assert client.password == "oauth:goodtoken" and client.nick == "livebot"
    await c.wait_state("connected")
    assert adapter.self_user_id == server.bot_user_id and adapter.can_send
    await server.send(privmsg(CH, "asker", "return policy?", user_id="55", msg_id="parent-1"))
    [q] = await c.wait_count(ChatMessage, 1)
    await adapter.send("7-day returns\r\nPRIVMSG #evil :spam", reply_to=q.user)
    await until(lambda: len(server.privmsgs) == 1, 3)
    tags, text = server.privmsgs[0]
    assert text == "7-day returns PRIVMSG #evil :spam"  # one line, never two
    assert tags == {"reply-parent-msg-id": "parent-1"}
    with pytest.raises(SendError, match="same text"):
        await adapter.send("7-day returns PRIVMSG #evil :spam")
    with pytest.raises(SendError, match="own account"):
        await adapter.send("x", reply_to=User(id=server.bot_user_id, name="livebot"))
    for i in range(19):
        await adapter.send(f"line {i}")
    with pytest.raises(SendError) as err:
        await adapter.send("one too many")
    assert err.value.retry_after and 0 < err.value.retry_after <= 30
    await until(lambda: len(server.privmsgs) == 20, 3)
    await c.close()


@pytest.mark.asyncio
async def test_moderator_limit_from_userstate(server, http) -> None:
    server.moderator = True
    adapter = make_adapter(server, http, login=True)
    c = Collector(adapter)
    await server.wait_joined(1)
    await c.wait_state("connected")
    await until(lambda: adapter.moderator, 3)
    for i in range(100):
        await adapter.send(f"m{i}")
    with pytest.raises(SendError):
        await adapter.send("m100")
    await c.close()
