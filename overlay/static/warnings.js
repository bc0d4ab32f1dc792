// Warnings overlay: the phrase the anchor just said, why it is a problem, and what to say instead.
//
// Nothing waits and nothing is hidden: the newest warning is on screen in full the moment it
// arrives. Up to ?max= cards (default 3) are shown in full: the newest one, and the most urgent
// of the others (platform notices, then 严重 block, then 警告 warn; newest first within each), so
// a block outranks a warn but an older block never pushes a newer one out. The rest stay on
// screen as compact one-line rows (up to ?rows=, default 6) until their time is up; only beyond
// that are the oldest, least urgent ones summed up as "还有 N 条较早的提醒". Repeats of one rule's
// phrase merge into one card with a count and a fresh timer, and count as new.
// After a reconnect, warnings said while the page was away are shown with their age.
"use strict";

// Every warning on screen at once: `maxFull` cards (the newest, then by rank and recency), then
// compact rows, then a count. Items: {key, rank, lifetime (ms), ...whatever build() needs}.
class WarningStack {
  constructor(options) {
    this.o = options;
    this.items = new Map(); // key -> item
    this.arrivals = 0;
    this.shownKeys = "";
    setInterval(() => this.expire(), 200);
  }

  get(key) {
    return this.items.get(key);
  }

  add(item) {
    item.arrival = ++this.arrivals;
    item.addedAt = performance.now();
    item.card = null;
    item.row = null;
    this.items.set(item.key, item);
    this.render();
  }

  // After a merge: redrawn, a fresh full lifetime, and the newest arrival again.
  refresh(item) {
    item.arrival = ++this.arrivals;
    item.addedAt = performance.now();
    const card = item.card;
    item.card = null;
    item.row = null;
    this.render();
    if (card && item.card) {
      const bumped = item.card;
      bumped.classList.add("bump");
      setTimeout(() => bumped.classList.remove("bump"), 400);
    }
  }

  expire() {
    const now = performance.now();
    let changed = false;
    for (const item of [...this.items.values()]) {
      if (now - item.addedAt >= item.lifetime) {
        this.items.delete(item.key);
        changed = true;
      }
    }
    if (changed) this.render();
  }

  // Which items are full cards, which are rows, how many are only counted.
  layout() {
    const all = [...this.items.values()].sort((a, b) => a.rank - b.rank || b.arrival - a.arrival);
    if (!all.length) return { full: [], rows: [], hidden: 0 };
    const newest = all.reduce((a, b) => (b.arrival > a.arrival ? b : a));
    let full = all.slice(0, this.o.maxFull);
    if (!full.includes(newest)) full = [...all.filter((it) => it !== newest).slice(0, this.o.maxFull - 1), newest];
    full.sort((a, b) => a.rank - b.rank || b.arrival - a.arrival);
    const rest = all.filter((it) => !full.includes(it));
    return { full, rows: rest.slice(0, this.o.maxRows), hidden: Math.max(0, rest.length - this.o.maxRows) };
  }

  render() {
    const { full, rows, hidden } = this.layout();
    const now = performance.now();
    const nodes = [];
    for (const item of full) {
      if (!item.card) {
        const card = this.o.build(item);
        const bar = el("div", "timer");
        bar.style.animationDuration = item.lifetime + "ms";
        card.append(bar);
        // once in, a card that moves up or down must not slide in again
        setTimeout(() => card.classList.add("settled"), 300);
        item.card = card;
      }
      item.row = null;
      nodes.push(item.card);
    }
    for (const item of rows) {
      if (!item.row) item.row = this.o.buildRow(item);
      item.card = null; // drawn afresh if it comes back to full size
      nodes.push(item.row);
    }
    const order = [...full.map((it) => "c" + it.arrival), ...rows.map((it) => "r" + it.arrival)].join(",");
    if (order !== this.shownKeys) {
      this.shownKeys = order;
      this.o.box.replaceChildren(...nodes);
      // moving a node restarts its timer bar: start it where it was
      for (const item of full) {
        const bar = item.card.querySelector(".timer");
        if (bar) bar.style.animationDelay = -(now - item.addedAt) + "ms";
      }
    }
    this.o.more.textContent = hidden ? this.o.moreText(hidden) : "";
    this.o.more.hidden = hidden === 0;
  }
}

(function () {
  const config = pageConfig();
  applyTheme("top-left");

  const lifetimeMs = numberParam("seconds", config.warning_seconds, 0.1, 3600) * 1000;
  // after a reconnect, missed warnings up to this old are still shown (older ones are counted)
  const missedMaxAge = numberParam("missed", Math.max(120, (3 * lifetimeMs) / 1000), 0, 86400);
  const chime = new LivebotChime(flagParam("sound", config.sound), numberParam("volume", 0.8, 0, 1));

  const NOTICE_TITLES = { warning: "平台警告", cut_off: "直播被切断", login_notice: "登录提醒" };
  const RANK = { notice: 0, block: 1, warn: 2, info: 3 };

  const stack = new WarningStack({
    box: document.getElementById("warnings"),
    more: document.getElementById("warnings-more"),
    maxFull: Math.round(numberParam("max", 3, 1, 10)),
    maxRows: Math.round(numberParam("rows", 6, 0, 30)),
    moreText: (n) => "还有 " + n + " 条较早的提醒",
    build,
    buildRow,
  });

  function keyOf(ev) {
    if (ev.type === "platform_notice") return "notice|" + ev.kind + "|" + ev.text;
    return "warning|" + ev.rule + "|" + (ev.phrase || ev.matched);
  }

  // The utterance around the match, the match itself marked: what the anchor actually said.
  function contextNode(ev) {
    const text = typeof ev.text === "string" ? ev.text : "";
    const start = Number(ev.start);
    const end = Number(ev.end);
    if (!text || !(start >= 0 && end > start && end <= text.length)) return null;
    const quote = el("div", "context");
    quote.append(
      document.createTextNode((start > 14 ? "…" : "") + text.slice(Math.max(0, start - 14), start)),
      el("mark", "said", text.slice(start, end)),
      document.createTextNode(text.slice(end, end + 14) + (end + 14 < text.length ? "…" : ""))
    );
    return quote;
  }

  function head(sevText, title, count, category) {
    const node = el("div", "head");
    node.append(el("span", "sev", sevText), el("span", "phrase", title), el("span", "count", count > 1 ? "×" + count : ""));
    if (category) node.append(el("span", "category", category));
    return node;
  }

  function build(item) {
    const ev = item.ev;
    let node;
    if (item.kind === "info") {
      node = el("div", "lb-card lb-info-card sev-info");
      node.append(el("div", "notice-text", item.text));
    } else if (item.kind === "notice") {
      const kind = Object.prototype.hasOwnProperty.call(NOTICE_TITLES, ev.kind) ? ev.kind : "warning";
      node = el("div", "lb-card lb-notice kind-" + kind);
      node.dataset.kind = kind;
      node.append(head("平台", NOTICE_TITLES[kind], item.count), el("div", "notice-text", ev.text || ""));
    } else {
      const sev = severityOf(ev);
      node = el("div", "lb-card lb-warning sev-" + sev);
      node.dataset.rule = String(ev.rule || "");
      node.dataset.severity = sev;
      const category = categoryLabel(ev.category) + (ev.scope === "chat" ? " · 弹幕" : "");
      node.append(head(LIVEBOT_SEVERITIES[sev], ev.matched || ev.phrase, item.count, category));
      if (ev.phrase && ev.matched && ev.phrase !== ev.matched) node.append(el("div", "canonical", "即「" + ev.phrase + "」"));
      const quote = contextNode(ev);
      if (quote) node.append(quote);
      if (ev.basis) node.append(el("div", "basis", ev.basis));
      if (ev.suggestion) node.append(el("div", "suggestion", ev.suggestion));
    }
    node.dataset.count = String(item.count);
    if (ev) node.dataset.seq = String(ev.seq);
    if (item.missedAge !== null) node.append(el("div", "missed", "断线期间 · " + ageText(item.missedAge)));
    return node;
  }

  // The compact form of an older card: severity, phrase, count. Still readable at a glance.
  function buildRow(item) {
    const ev = item.ev;
    let node;
    if (item.kind === "info") {
      node = el("div", "lb-row lb-info-row sev-info");
      node.append(el("span", "row-text", item.text));
    } else if (item.kind === "notice") {
      const kind = Object.prototype.hasOwnProperty.call(NOTICE_TITLES, ev.kind) ? ev.kind : "warning";
      node = el("div", "lb-row lb-notice-row kind-" + kind);
      node.dataset.kind = kind;
      node.append(el("span", "sev", "平台"), el("span", "phrase", NOTICE_TITLES[kind]), el("span", "row-text", ev.text || ""));
    } else {
      const sev = severityOf(ev);
      node = el("div", "lb-row lb-warning-row sev-" + sev);
      node.dataset.rule = String(ev.rule || "");
      node.dataset.severity = sev;
      node.append(el("span", "sev", LIVEBOT_SEVERITIES[sev]), el("span", "phrase", ev.matched || ev.phrase || ""));
      if (ev.suggestion) node.append(el("span", "row-text", "改说：" + ev.suggestion));
    }
    node.append(el("span", "count", item.count > 1 ? "×" + item.count : ""));
    node.dataset.count = String(item.count);
    if (ev) node.dataset.seq = String(ev.seq);
    return node;
  }

  function ageText(seconds) {
    return seconds < 60 ? Math.round(seconds) + " 秒前" : Math.round(seconds / 60) + " 分钟前";
  }

  function add(ev, missedAge) {
    const key = keyOf(ev);
    const existing = stack.get(key);
    if (existing) {
      existing.count += 1; // said again: one card, a count, a fresh full time on screen, and newest
      existing.ev = ev;
      existing.missedAge = missedAge;
      stack.refresh(existing);
      chime.play("repeat");
      return;
    }
    const isNotice = ev.type === "platform_notice";
    const rank = isNotice ? (ev.kind === "login_notice" ? RANK.info : RANK.notice) : RANK[severityOf(ev)];
    let lifetime = lifetimeMs;
    if (isNotice && ev.kind !== "login_notice") lifetime = 3 * lifetimeMs;
    else if (rank === RANK.block) lifetime = 1.5 * lifetimeMs;
    stack.add({ key, kind: isNotice ? "notice" : "warning", ev, rank, count: 1, missedAge, lifetime });
    chime.play(isNotice ? "block" : severityOf(ev));
  }

  let infoCount = 0;
  function info(text) {
    infoCount += 1;
    stack.add({ key: "info|" + infoCount, kind: "info", ev: null, text, rank: RANK.info, count: 1, missedAge: null, lifetime: lifetimeMs });
  }

  let tooOld = 0; // missed warnings too old to show, reported once the replay is through
  let tooOldTimer = null;

  new LivebotFeed(config, {
    types: ["warning", "platform_notice"],
    onHello(hello, meta) {
      if (meta.reconnect && hello.gap) info("连接中断期间的部分提醒可能已丢失，请查看控制台");
    },
    onEvent(ev, meta) {
      if (ev.type !== "warning" && ev.type !== "platform_notice") return;
      let missedAge = null;
      if (meta.replayed) {
        const fresh = meta.age * 1000 < lifetimeMs; // it would still be on screen had the page been open
        if (!fresh && !(meta.reconnect && meta.age <= missedMaxAge)) {
          if (meta.reconnect) {
            tooOld += 1;
            clearTimeout(tooOldTimer);
            tooOldTimer = setTimeout(() => {
              info("断线期间另有 " + tooOld + " 条较早的提醒，请查看控制台");
              tooOld = 0;
            }, 300);
          }
          return;
        }
        if (meta.reconnect && meta.age >= 2) missedAge = meta.age;
      }
      add(ev, missedAge);
    },
  });
})();
