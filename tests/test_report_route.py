"""``/report/{room}`` on the running web app: the admin token as bearer, query (then cookie) or the
admin page's cookie; a wrong or missing one is refused; the JSON equals what the log holds."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.report_support import ROOM, count_log, log_files, show_settings, wait_for_show_end
from tests.support import running_service


@pytest.mark.asyncio
async def test_report_route_serves_the_admin_token_and_refuses_others(tmp_path: Path) -> None:
    settings = show_settings(tmp_path, speed=60.0)
    async with running_service(settings) as run:
        await wait_for_show_end(settings)
        day = log_files(settings)[0].stem
        url = f"{run.base_url}/report/{ROOM}?date={day}"
        async with aiohttp.ClientSession() as http:
            for headers, query in (({}, ""), ({}, "&token=wrong"), ({"Authorization": "Bearer wrong"}, "")):
                async with http.get(url + query, headers=headers) as resp:
                    assert resp.status == 401, (headers, query)
                    assert "直播合规报告" not in await resp.text()

            async with http.get(url, headers={"Authorization": "Bearer admin"}) as resp:
                assert resp.status == 200 and resp.content_type == "text/html"
                page = await resp.text()
                assert "直播合规报告" in page and 'id="timeline"' in page and 'id="categories"' in page
                assert "script-src" in resp.headers["Content-Security-Policy"]

            async with http.get(f"{url}&format=json", headers={"Authorization": "Bearer admin"}) as resp:
                summary = await resp.json()
            held = count_log(log_files(settings))
            assert summary["counts"] == dict(held["counts"])
            assert summary["warnings"]["by_category"] == dict(held["category"])

        # ?token= once, then the cookie it set carries the next page (another date here)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{url}&token=admin") as resp:
                assert resp.status == 200
            async with http.get(f"{run.base_url}/report/{ROOM}?date=2020-01-01") as resp:
                assert resp.status == 200 and "此时段没有记录" in await resp.text()
            async with http.get(f"{run.base_url}/report/{ROOM}?date=soon") as resp:
                assert resp.status == 400
            async with http.get(f"{run.base_url}/report/nosuchroom") as resp:
                assert resp.status == 404

        # the admin page's cookie (kept for /admin) opens the report linked from that page
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{run.base_url}/admin/faq/{ROOM}?token=admin") as resp:
                assert resp.status == 200
                assert f'href="/admin/report/{ROOM}"' in await resp.text()
            async with http.get(f"{run.base_url}/admin/report/{ROOM}?date={day}") as resp:
                assert resp.status == 200 and "直播合规报告" in await resp.text()
            async with http.get(f"{run.base_url}/report/{ROOM}?date={day}") as resp:
                assert resp.status == 401  # that cookie is for /admin only

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{run.base_url}/console/{ROOM}?token=overlay-{ROOM}") as resp:
                assert f'href="/report/{ROOM}"' in await resp.text()
