"""Douyu packet framing: byte layout, several packets per message, packets cut across messages,
and hostile headers and bodies dropped as junk without losing the next packet."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.douyu import packets
from bot.adapters.douyu.packets import Junk, Packet, Splitter
from tests.loopback.douyu import header, packet, raw_packet


def bodies(items: list[Packet | Junk]) -> list[str]:
    return [i.body for i in items if isinstance(i, Packet)]


def junk(items: list[Packet | Junk]) -> list[str]:
    return [i.reason for i in items if isinstance(i, Junk)]


def test_layout_byte_for_byte() -> None:
    raw = packets.encode("type@=mrkl/")
    body = b"type@=mrkl/\0"
    assert raw == struct.pack("<IIHBB", 8 + len(body), 8 + len(body), 689, 0, 0) + body
    assert raw[:12].hex() == "1400000014000000b1020000"
    assert packets.encode("type@=mrkl/", packets.SERVER)[8:10] == b"\xb2\x02"
    # the loopback server's own builder agrees
    assert packets.encode("type@=mrkl/", packets.SERVER) == packet("type@=mrkl/")
    assert len(packets.encode("中")) == 12 + 3 + 1  # lengths count bytes, not characters
    with pytest.raises(ValueError):
        packets.encode("x", 700)


def test_several_packets_in_one_message_in_order() -> None:
    msg = b"".join(packet(f"type@=chatmsg/txt@={i}/") for i in range(50))
    assert bodies(Splitter().feed(msg)) == [f"type@=chatmsg/txt@={i}/" for i in range(50)]


def test_client_type_is_accepted_too() -> None:
    assert bodies(Splitter().feed(packet("type@=x/", 689))) == ["type@=x/"]


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 13, 20])
def test_packet_cut_across_two_messages(cut: int) -> None:
    whole = packet("type@=chatmsg/txt@=跨帧/") + packet("type@=chatmsg/txt@=next/")
    s = Splitter()
    first = s.feed(whole[:cut])
    assert first == []
    assert bodies(s.feed(whole[cut:])) == ["type@=chatmsg/txt@=跨帧/", "type@=chatmsg/txt@=next/"]


GOOD = packet("type@=chatmsg/txt@=after/")
#: pieces hostile junk is made of: sound and lying headers, sync bytes, NULs, text
HOSTILE_PARTS = [header(20), header(20, 21), header(9), header(5000), b"\xb2\x02\x00\x00", b"\x00", b"type@=x/", GOOD]

HOSTILE = {
    "lengths disagree": header(20, 21) + b"type@=x/\0" + b"...",
    "wrong type": header(20, type_=700) + b"type@=chatmsg/\0",
    "encrypt byte set": header(20, encrypt=1) + b"type@=chatmsg/\0",
    "reserved byte set": header(20, reserved=7) + b"type@=chatmsg/\0",
    "length too small": header(3) + b"type@=x/\0",
    "length over the limit": header(packets.MAX_PACKET) + b"type@=x/\0",
    "no final NUL": raw_packet(b"type@=chatmsg/txt@=x/"),
    "NUL inside": raw_packet(b"type@=chat\0msg/\0"),
    "not UTF-8": raw_packet(b"type@=chatmsg/txt@=\xff\xfe/\0"),
    "short length lies": header(12) + b"type@=chatmsg/txt@=longer than said/\0",
    "plain junk": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_packet_is_junk_and_the_next_one_is_handled(name: str) -> None:
    s = Splitter()
    items = s.feed(packet("type@=chatmsg/txt@=before/") + HOSTILE[name] + GOOD)
    assert bodies(items)[0] == "type@=chatmsg/txt@=before/"
    assert bodies(items)[-1] == "type@=chatmsg/txt@=after/"
    assert junk(items), name
    # nothing is left over to spoil the next message
    assert bodies(s.feed(GOOD)) == ["type@=chatmsg/txt@=after/"]


def test_length_that_promises_more_than_comes_does_not_swallow_the_next_message() -> None:
    s = Splitter()
    liar = header(4000) + b"type@=chatmsg/txt@=lie/\0"
    assert s.feed(liar) == []  # could be the first part of a big packet: kept
    items = s.feed(GOOD)  # a message that starts with a sound header: the tail was a lie
    assert bodies(items) == ["type@=chatmsg/txt@=after/"] and len(junk(items)) == 1


def test_mismatched_fragment_at_the_end_is_junk_not_kept() -> None:
    s = Splitter()
    items = s.feed(GOOD + header(40, 41)[:10])
    assert bodies(items) == ["type@=chatmsg/txt@=after/"] and junk(items)
    assert bodies(s.feed(GOOD)) == ["type@=chatmsg/txt@=after/"]


def test_resync_is_linear_on_a_large_junk_message() -> None:
    # a megabyte of sync-looking bytes with lying headers: each candidate is checked once
    bomb = (header(30, 31) + b"\xb2\x02\x00\x00" * 4) * 40000
    items = Splitter().feed(bomb + GOOD)
    assert bodies(items) == ["type@=chatmsg/txt@=after/"]


def test_length_that_runs_into_the_next_packet_is_junk() -> None:
    items = Splitter().feed(header(4000) + b"type@=chatmsg/txt@=lie/\0" + GOOD)
    assert bodies(items) == ["type@=chatmsg/txt@=after/"] and len(junk(items)) == 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_random_bytes_never_raise(messages: list[bytes]) -> None:
    s = Splitter(max_packet=4096)
    for m in messages:
        for item in s.feed(m):
            assert isinstance(item, Packet | Junk)
    assert len(s._tail) <= 4096


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.binary(max_size=200), st.lists(st.sampled_from(HOSTILE_PARTS), max_size=8).map(b"".join)),
    st.text(max_size=50),
)
def test_a_good_packet_after_any_junk_is_found(noise: bytes, text: str) -> None:
    body = "type@=chatmsg/txt@=" + text.replace("\x00", "") + "/"
    # in the same message: no header can hide a packet that follows it
    assert body in bodies(Splitter().feed(noise + packet(body)))
    # in the next message, whatever the junk left behind
    s = Splitter()
    s.feed(noise)
    assert bodies(s.feed(packet(body))) == [body]
