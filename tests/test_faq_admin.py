"""The FAQ admin page, through a real service (replay room -> pipeline -> bus) on a loopback port."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp
import pytest

from tests.support import make_settings, running_service

FAQ = """
[[faq]]
id = "free_shipping"
question = "包邮吗？"
answer = "全场包邮；偏远地区补运费10元。"
short = "包邮，偏远补10元"
examples = ["包邮吗", "运费多少"]

[[faq]]
id = "invoice"
question = "可以开发票吗？"
answer = "可开电子发票。"
examples = ["能开发票吗"]
"""

WARRANTY = """
[[faq]]
id = "warranty"
question = "保修多久？"
answer = "整机保修一年。"
examples = ["保修多久"]
"""

CHAT = [
    (0.05, "1", "小鹿", "包邮吗主播"),
    (0.10, "2", "<script>alert(1)</script>", "能用花呗吗<img src=x onerror=alert(2)>"),
    (0.15, "3", "阿狸", "孕妇能吃吗"),
    (0.20, "4", "喵", "发货真快"),  # a statement: not a question, never listed
]


def read(path: Path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    faq = tmp_path / "faq.toml"
    faq.write_text(FAQ, "utf-8")
    rec = tmp_path / "rec.jsonl"
    rec.write_text(
        "\n".join(
            json.dumps({"t": t, "type": "chat", "user": {"id": uid, "name": name}, "text": text}, ensure_ascii=False)
            for t, uid, name, text in CHAT
        )
        + "\n",
        "utf-8",
    )
    return faq, rec


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.asyncio
async def test_admin_faq_page(tmp_path: Path, files: tuple[Path, Path]) -> None:
    faq, rec = files
    settings = make_settings(
        tmp_path, [{"name": "shop", "platform": "replay", "recording": str(rec), "faq": str(faq), "speed": 1.0}]
    )
    # unsafe=True: the cookie jar otherwise ignores cookies from an IP address such as 127.0.0.1
    jar = aiohttp.CookieJar(unsafe=True)
    async with running_service(settings) as run, aiohttp.ClientSession(cookie_jar=jar) as http:
        page = f"{run.base_url}/admin/faq/shop"

        # the token: wrong or missing is 401; the right one sets an HttpOnly cookie
        async with http.get(page) as r:
            assert r.status == 401
        async with http.get(page, params={"token": "nope"}) as r:
            assert r.status == 401
        async with http.get(f"{run.base_url}/admin/faq/other", params={"token": "admin"}) as r:
            assert r.status == 404
        async with http.get(page, params={"token": "admin"}) as r:
            assert r.status == 200
            assert "httponly" in r.headers["Set-Cookie"].lower()
            html = await r.text()
        assert "id = &#34;free_shipping&#34;" in html  # the file in the editor (escaped, like all text)
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]

        # recent unanswered questions come from the bus; viewer text is escaped
        async def listed() -> bool:
            async with http.get(page) as r:  # the cookie is enough now
                return "孕妇能吃吗" in await r.text()

        await wait_for(listed)
        async with http.get(page) as r:
            html = await r.text()
        assert "能用花呗吗&lt;img src=x onerror=alert(2)&gt;" in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
        table = html[html.index('id="unanswered"') : html.index("</table>", html.index('id="unanswered"'))]
        assert "孕妇能吃吗" in table
        assert "发货真快" not in table and "包邮吗主播" not in table  # statements and answered ones are not listed

        # try a message: which entry, what score, why
        async with http.get(page, params={"q": "包油吗"}) as r:
            html = await r.text()
        assert '<b id="result-id">free_shipping</b>' in html and "result-why" in html and "gate: question" in html
        async with http.get(page, params={"q": "能用花呗吗"}) as r:
            html = await r.text()
        assert "不回答" in html

        # a bad edit is refused with the error, and nothing changes on disk
        bad = FAQ.replace('answer = "可开电子发票。"', 'answer = ""')
        async with http.post(f"{page}/save", data={"content": bad, "csrf": csrf}) as r:
            assert r.status == 400
            html = await r.text()
        assert 'id="save-error"' in html and "entry 2 (invoice): answer: must not be empty" in html
        assert read(faq) == FAQ

        # without the form token a post is forbidden (the cookie alone cannot post)
        async with http.post(f"{page}/save", data={"content": FAQ + "\n"}) as r:
            assert r.status == 403
        assert read(faq) == FAQ

        # a good edit is written and served by the running bot
        good = FAQ + WARRANTY
        async with http.post(f"{page}/save", data={"content": good, "csrf": csrf}) as r:
            assert r.status == 200 and "saved=1" in str(r.url)
            assert 'id="saved"' in await r.text()
        assert read(faq) == good
        store = next(iter(run.service.faq_stores.values()))

        async def reloaded() -> bool:
            await store.reload_if_changed()
            return store.match("保修多久").faq_id == "warranty"

        await wait_for(reloaded)
        async with http.get(page, params={"q": "保修几年"}) as r:
            assert '<b id="result-id">warranty</b>' in await r.text()

        # the index lists the room
        async with http.get(f"{run.base_url}/admin/faq") as r:
            assert r.status == 200 and "/admin/faq/shop" in await r.text()
