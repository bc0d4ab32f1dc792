"""The IRCv3 line parser: Twitch's real lines, tag escaping, hostile input, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.irc import IrcParseError, build_line, clean_text, escape_tag, parse_line, unescape_tag


def test_privmsg_with_tags() -> None:
    line = (
        "@badge-info=subscriber/8;badges=moderator/1,subscriber/6;color=#0D4200;display-name=ronni;emotes=;"
        "id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=1;room-id=1337;subscriber=1;tmi-sent-ts=1507246572675;"
        "turbo=0;user-id=1337;user-type=mod :ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #ronni :Kappa Keepo Kappa"
    )
    m = parse_line(line + "\r\n")
    assert m.command == "PRIVMSG" and m.params == ("#ronni", "Kappa Keepo Kappa")
    assert m.nick == "ronni" and m.tags["badges"] == "moderator/1,subscriber/6" and m.tags["emotes"] == ""
    assert m.tags["tmi-sent-ts"] == "1507246572675"


def test_tag_escaping_round_trip() -> None:
    m = parse_line(r"@system-msg=5\sraiders\sfrom\sa\:b\\c\r\nd;flag :tmi.twitch.tv USERNOTICE #c")
    assert m.tags == {"system-msg": "5 raiders from a;b\\c\r\nd", "flag": ""}
    assert unescape_tag("a\\") == "a" and unescape_tag("\\x") == "x"
    for value in ["a b;c\\d\r\ne", "", "\\\\", "end\\"]:
        assert unescape_tag(escape_tag(value)) == value


def test_server_lines() -> None:
    assert parse_line("PING :tmi.twitch.tv").params == ("tmi.twitch.tv",)
    m = parse_line(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!")
    assert (m.command, m.prefix, m.nick, m.params) == ("001", "tmi.twitch.tv", "", ("justinfan123", "Welcome, GLHF!"))
    assert parse_line(":tmi.twitch.tv RECONNECT").params == ()
    assert parse_line(":tmi.twitch.tv CLEARCHAT #dallas :ronni").params == ("#dallas", "ronni")
    assert parse_line("@a=1 :x!x@x JOIN #c").command == "JOIN"


@pytest.mark.parametrize(
    "line",
    ["", "   ", "@only-tags", ":prefix-only", "@a=b :p", "PRIV-MSG x", "12 x", "PRIVMSG\0 #c :x", "a\rb", "命令 x"],
)
def test_bad_lines(line: str) -> None:
    with pytest.raises(IrcParseError):
        parse_line(line)


def test_overlong_line() -> None:
    with pytest.raises(IrcParseError):
        parse_line("PRIVMSG #c :" + "x" * 100_000)


def test_build_line_and_injection() -> None:
    assert build_line("PRIVMSG", "#c", "hello there") == "PRIVMSG #c :hello there"
    assert build_line("PRIVMSG", "#c", "hi", tags={"reply-parent-msg-id": "a b;c"}) == (
        r"@reply-parent-msg-id=a\sb\:c PRIVMSG #c :hi"
    )
    with pytest.raises(ValueError):
        build_line("PRIVMSG", "#c", "x\r\nPRIVMSG #other :spam")
    assert clean_text("x\r\nPRIVMSG #other :spam\0") == "x PRIVMSG #other :spam"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"@[a-z=;\\ -]{0,40} :[a-z!@.]{0,20} [A-Z]{1,8}( [#:a-z ]{0,30})?"))
def test_fuzz_parser_only_raises_its_error(line: str) -> None:
    try:
        m = parse_line(line)
    except IrcParseError:
        return
    assert m.command and all("\n" not in p and "\r" not in p for p in m.params)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=50))
def test_fuzz_tag_escape_round_trip(value: str) -> None:
    assert unescape_tag(escape_tag(value)) == value
    assert not any(c in escape_tag(value) for c in " ;\r\n")
