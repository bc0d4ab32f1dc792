"""Douyu STT text: escaping order, nested values, round trips and hostile text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.douyu import stt

# the alphabet that matters: the two special characters, the escape letters, '=' and a little else
TRICKY = st.text(alphabet=st.sampled_from("@/AS=a中 \x00\x1b<"), max_size=30)
TEXT = st.one_of(TRICKY, st.text(max_size=30))
KEY = st.text(min_size=1, max_size=12).filter(lambda k: k.isprintable())


def reference_unescape(text: str) -> str:
    """What the protocol notes say: @S first, then @A."""
    return text.replace("@S", "/").replace("@A", "@")


def test_escape_order() -> None:
    assert stt.escape("@") == "@A"
    assert stt.escape("/") == "@S"
    assert stt.escape("@S") == "@AS"  # not "@A@S": '@' is escaped first
    assert stt.escape("a@b/c") == "a@Ab@Sc"


def test_unescape_does_s_before_a() -> None:
    # a viewer who types the literal "@S" sends "@AS" on the wire
    assert stt.unescape("@AS") == "@S"
    # the wrong order (@A first) would give "/": the bug several public clients have
    assert "@AS".replace("@A", "@").replace("@S", "/") == "/"
    assert stt.unescape("@A@S") == "@/"
    assert stt.unescape("x@AAy") == "x@Ay"


@pytest.mark.parametrize("bad", ["@", "abc@", "@B", "a@=b", "@a", "@@"])
def test_bad_escapes_are_errors(bad: str) -> None:
    with pytest.raises(stt.SttError):
        stt.unescape(bad)


def test_real_looking_messages() -> None:
    fields = stt.loads(
        "type@=uenter/rid@=3898464/uid@=199997189/nn@=tiara佳尊/level@=40/"
        "ic@=avatar_v3@S201902@S2ef75ae27685acd22b2ba05379012994/rni@=0/"
        "el@=eid@AA=1500000113@ASetp@AA=1@ASsc@AA=1@ASef@AA=0@AS@S/sahf@=0/"
    )
    assert fields["type"] == "uenter" and fields["nn"] == "tiara佳尊"
    assert fields["ic"] == "avatar_v3/201902/2ef75ae27685acd22b2ba05379012994"
    # el is a list holding one map, escaped twice on the wire
    (item,) = stt.load_list(fields["el"])
    assert stt.loads(item) == {"eid": "1500000113", "etp": "1", "sc": "1", "ef": "0"}
    assert stt.dumps({"el": [{"eid": "1500000113", "etp": "1", "sc": "1", "ef": "0"}]}) == (
        "el@=eid@AA=1500000113@ASetp@AA=1@ASsc@AA=1@ASef@AA=0@AS@S/"
    )


def test_login_packets_as_douyu_reads_them() -> None:
    assert stt.dumps({"type": "loginreq", "roomid": 288016}) == "type@=loginreq/roomid@=288016/"
    assert stt.dumps({"type": "joingroup", "rid": 288016, "gid": "-9999"}) == "type@=joingroup/rid@=288016/gid@=-9999/"
    assert stt.dumps({"type": "mrkl"}) == "type@=mrkl/"


def test_repeated_key_keeps_the_last_and_missing_final_slash_is_forgiven() -> None:
    assert stt.loads("rid@=1/sc@=2/rid@=-1/type@=qausrespond") == {"rid": "-1", "sc": "2", "type": "qausrespond"}
    assert stt.loads("") == {}
    assert stt.loads("a@=/") == {"a": ""}


@pytest.mark.parametrize("bad", ["type", "type@=chatmsg/txt", "@=x/", "a@=b@=c/", "k@=v@/"])
def test_malformed_maps_are_errors(bad: str) -> None:
    with pytest.raises(stt.SttError):
        stt.loads(bad)


def test_too_many_fields_is_an_error() -> None:
    with pytest.raises(stt.SttError, match="entries"):
        stt.loads("a@=b/" * (stt.MAX_FIELDS + 1))
    assert len(stt.loads("".join(f"k{i}@=v/" for i in range(stt.MAX_FIELDS)))) == stt.MAX_FIELDS


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_unescape_inverts_escape_and_agrees_with_the_reference(text: str) -> None:
    wire = stt.escape(text)
    assert "/" not in wire
    assert stt.unescape(wire) == text == reference_unescape(wire)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEY, TEXT, max_size=12))
def test_flat_round_trip(fields: dict[str, str]) -> None:
    assert stt.loads(stt.dumps(fields)) == fields


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEY, TEXT, max_size=6), st.lists(st.dictionaries(KEY, TEXT, max_size=5), max_size=5), TEXT)
def test_nested_round_trip(inner: dict[str, str], items: list[dict[str, str]], plain: str) -> None:
    wire = stt.dumps({"type": "x", "map": inner, "list": items, "plain": plain})
    top = stt.loads(wire)
    assert top["type"] == "x" and top["plain"] == plain
    assert stt.loads(top["map"]) == inner
    assert [stt.loads(i) for i in stt.load_list(top["list"])] == items


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, max_size=8))
def test_list_of_strings_round_trip(items: list[str]) -> None:
    assert stt.load_list(stt.loads(stt.dumps({"l": items}))["l"]) == items


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(alphabet=st.sampled_from("@/AS=ab\x00"), max_size=60), st.text(max_size=200)))
def test_random_text_gives_a_map_or_an_stt_error(text: str) -> None:
    try:
        fields = stt.loads(text)
    except stt.SttError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
