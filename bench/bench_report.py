"""Time the post-stream report on a generated show: a 6-hour show at 200 messages/s (~4.3 million
audit lines, ~2 GB) by default.

    python bench/bench_report.py [--hours 6] [--rate 200] [--dir DIR] [--keep] [--duckdb]

The log is written line for line in the audit format (``bot/audit.py``): chat with users, gifts,
FAQ decisions (sent / held / failed / abstained), final speech segments every 3 s, warnings on a
quarter of them with the real rule fields, super chats, membership buys, a reconnect every hour.
Then it times ``livebot report``'s reader and aggregation, the JSON summary and the HTML page.
``--duckdb`` also times DuckDB reading the same JSONL for the same core counts (the engine
comparison in docs/report.md); it needs ``pip install duckdb``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.report import build_report, render_html
from bot.report.reader import Window

ROOM = "bench"
NAMES = ["小鹿乱撞", "奶茶三分糖", "喵了个咪", "阿狸不吃鱼", "橘子汽水", "打工人小王", "芒果布丁", "今天也要加油鸭"]
CHATS = ["来了来了", "主播晚上好", "这个多少钱", "上链接", "好看", "已拍", "什么时候发货", "有优惠券吗", "666",
         "哈哈哈哈"]
QUESTIONS = ["能用花呗吗", "几天发货", "包邮吗", "怎么退货", "有运费险吗", "敏感肌能用吗", "福袋什么时候发"]
GIFTS = [("小心心", 0.1), ("辣条", 0.1), ("粉丝团灯牌", 1.0), ("小花花", 0.1), ("告白气球", 52.0)]
SPEECH = ["家人们这个面霜今天真的是史上最低价", "我们家的玻尿酸精华敏感肌也能用", "这个养生壶一键煮花茶",
          "三号链接冻干草莓脆马上上架", "喜欢的家人们点点关注", "今天下单的明天就发货"]
WARNINGS = [
    ("absolute.lowest_price", "史上最低", "absolute", "block", 10, 14),
    ("medical.health_function", "调理", "medical", "block", 2, 4),
    ("guarantee.safety", "零风险", "guarantee", "warn", 8, 11),
    ("urgency.false_scarcity", "最后一波", "urgency_fraud", "warn", 0, 4),
    ("false_data.frenzy", "疯抢", "false_data", "info", 2, 4),
]
BASIS = "《广告法》第九条第三项（不得使用“国家级”“最高级”“最佳”等用语）；市场监管总局《广告绝对化用语执法指南》（2023）"
SUGGESTION = "报出具体价格和优惠机制：“今天直播间到手价59.9元”，不要说全网/史上最低"


def _user(rng: random.Random) -> dict[str, object]:
    uid = rng.randrange(1, 50_000)
    return {"id": str(uid), "name": f"{rng.choice(NAMES)}{uid % 97}", "roles": [], "level": uid % 30,
            "medal": None, "guard": 0}


def _body(kind: str, rng: random.Random) -> dict[str, object]:
    """The fields after ``ts`` of one event of ``kind``, as the audit log writes them."""
    if kind == "chat":
        return {"platform_ts": None, "user": _user(rng), "text": rng.choice(CHATS), "msg_id": None,
                "emoticon": False, "reply_to": None}
    if kind == "gift":
        name, price = rng.choice(GIFTS)
        count = rng.choice((1, 1, 1, 5, 10))
        return {"platform_ts": None, "user": _user(rng), "text": "", "gift_name": name, "count": count,
                "price": round(price * count, 2), "currency": "CNY", "paid": True}
    if kind == "faq_reply":
        action = rng.choice(("sent", "sent", "held", "failed", "abstained", "abstained"))
        user = _user(rng)
        question = rng.choice(QUESTIONS)
        answered = action != "abstained"
        return {"platform_ts": None, "user": user, "text": question, "faq_id": "ship" if answered else "",
                "question": "多久发货？" if answered else "", "answer": "48小时内发货" if answered else "",
                "chat_text": "@x 48小时内发货" if answered else "", "score": 0.8,
                "action": action, "reason": "room_rate" if action == "held" else "", "askers": [user]}
    raise ValueError(kind)


def generate(path: Path, *, hours: float, rate: int, seed: int = 7) -> int:
    """Write a show of ``hours`` at ``rate`` viewer events per second; returns the lines written."""
    rng = random.Random(seed)
    # bodies are drawn from a pool so writing 4 million lines takes seconds, not minutes
    pool = {k: [json.dumps(_body(k, rng), ensure_ascii=False)[1:-1] for _ in range(400)]
            for k in ("chat", "gift", "faq_reply")}
    kinds = ["chat"] * 80 + ["gift"] * 15 + ["faq_reply"] * 5
    day = dt.date.today()
    start = dt.datetime.combine(day, dt.time(9, 0)).astimezone().timestamp()  # one local day
    seq = 0
    lines = 0
    path.parent.mkdir(parents=True, exist_ok=True)

    def head(kind: str, ts: float) -> str:
        nonlocal seq
        seq += 1
        return f'{{"type": "{kind}", "room": "{ROOM}", "platform": "bilibili", "seq": {seq}, "ts": {ts!r}, '

    stamp = dt.datetime.fromtimestamp(start).astimezone().isoformat(timespec="milliseconds")
    tail = f', "logged_at": "{stamp}"}}\n'
    with open(path, "w", encoding="utf-8") as out:
        out.write(head("live_status", start) + '"platform_ts": null, "user": null, "text": "", "status": "live"'
                  + tail)
        lines += 1
        for second in range(int(hours * 3600)):
            now = start + second
            buf = []
            for i in range(rate):
                kind = kinds[rng.randrange(100)]
                buf.append(head(kind, now + i / rate) + rng.choice(pool[kind]) + tail)
            if second % 3 == 0:
                text = rng.choice(SPEECH)
                seg = f"s{second // 3}"
                buf.append(head("speech", now + 0.5) + json.dumps(
                    {"platform_ts": None, "user": None, "text": text, "segment": seg, "final": True,
                     "source": "ingest"}, ensure_ascii=False)[1:-1] + tail)
                if rng.random() < 0.25:
                    rule, phrase, category, severity, s, e = rng.choice(WARNINGS)
                    source_seq = seq
                    buf.append(head("warning", now + 0.51) + json.dumps(
                        {"platform_ts": None, "user": None, "text": text, "rule": rule, "phrase": phrase,
                         "matched": phrase, "category": category, "severity": severity, "basis": BASIS,
                         "suggestion": SUGGESTION, "start": s, "end": e, "scope": "speech", "segment": seg,
                         "source_seq": source_seq}, ensure_ascii=False)[1:-1] + tail)
            if second % 600 == 300:
                buf.append(head("super_chat", now + 0.7) + '"platform_ts": null, "user": null, "text": "主播加油", '
                           '"sc_id": "1", "price": 30.0, "currency": "CNY", "duration": 60' + tail)
            if second % 3600 == 1800:
                for state in ("reconnecting", "connected"):
                    buf.append(head("room_status", now + 0.8) + '"platform_ts": null, "user": null, "text": "", '
                               f'"state": "{state}", "detail": "bench"' + tail)
            out.write("".join(buf))
            lines += len(buf)
    return lines


# DuckDB's typed reader: fast, but a bad line is dropped (or a wrong type cast) without a count
DUCKDB_TYPED = """
SELECT type, severity, category, rule, action, CAST(floor(ts / 60) AS BIGINT) AS minute, count(*) AS n
FROM read_json({files}, format='newline_delimited', ignore_errors=true, maximum_object_size=1048576,
  columns={{type: 'VARCHAR', room: 'VARCHAR', seq: 'BIGINT', ts: 'DOUBLE', severity: 'VARCHAR',
            category: 'VARCHAR', rule: 'VARCHAR', action: 'VARCHAR'}})
WHERE room = '{room}' GROUP BY ALL
"""
# what the report must do: every line read as text, checked, bad ones counted, types checked
DUCKDB_CHECKED = """
WITH raw AS (
  SELECT line FROM read_csv({files}, columns={{'line': 'VARCHAR'}}, delim=chr(1), quote='', escape='',
    header=false, auto_detect=false, strict_mode=false, max_line_size=1048576, ignore_errors=true)
), ev AS (
  SELECT CASE WHEN json_valid(line) THEN json_extract_string(line,
           ['$.type', '$.room', '$.seq', '$.ts', '$.severity', '$.category', '$.rule', '$.action']) END AS v,
         CASE WHEN json_valid(line) THEN json_type(line, '$.ts') END AS ts_type
  FROM raw
)
SELECT v[1], v[5], v[6], v[7], v[8], ts_type, floor(TRY_CAST(v[4] AS DOUBLE) / 60), count(*) AS n
FROM ev WHERE v IS NULL OR v[2] = '{room}' GROUP BY ALL
"""


def time_duckdb(files: list[Path]) -> dict[str, tuple[float, int]]:
    import duckdb

    out = {}
    for name, sql in (("typed read_json", DUCKDB_TYPED), ("lines checked with json_valid", DUCKDB_CHECKED)):
        query = sql.format(files=[str(f) for f in files], room=ROOM)
        t0 = time.perf_counter()
        rows = duckdb.sql(query).fetchall()
        out[name] = (time.perf_counter() - t0, sum(r[-1] for r in rows))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--rate", type=int, default=200, help="viewer events per second (default 200)")
    parser.add_argument("--dir", default="", help="audit directory to write (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    parser.add_argument("--duckdb", action="store_true", help="also time DuckDB on the same files")
    args = parser.parse_args()

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="livebot-bench-report-"))
    path = base / ROOM / f"{dt.date.today().isoformat()}.jsonl"
    try:
        t0 = time.perf_counter()
        lines = generate(path, hours=args.hours, rate=args.rate)
        size = path.stat().st_size
        print(f"generated {lines:,} lines ({size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.1f} s: "
              f"{args.hours:g} h at {args.rate}/s")

        t0 = time.perf_counter()
        report = build_report([base], ROOM, Window.for_date(dt.date.today()))
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = json.dumps(report.summary(), ensure_ascii=False)
        html = render_html(report)
        render_s = time.perf_counter() - t0
        events = report.stats.events
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"report (read + aggregate): {read_s:.1f} s, {events / read_s:,.0f} lines/s; "
              f"JSON + HTML: {render_s * 1000:.0f} ms ({len(summary):,} + {len(html):,} bytes); "
              f"peak memory of the process {peak:,.0f} MiB")
        if args.duckdb:
            for name, (duck_s, duck_n) in time_duckdb([path]).items():
                print(f"duckdb, {name}, 8 fields grouped (not the whole report): {duck_s:.1f} s, "
                      f"{duck_n / duck_s:,.0f} lines/s")
        print("(a shared 2-core machine: compare figures of one run, not across runs)")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
