// Warnings overlay: the phrase the anchor just said, why it is a problem, and what to say instead.
//
// A burst is queued (cards.js): at most ?max= cards are visible (default 3), the rest wait in
// order of severity and arrival. Repeats of one rule's phrase merge into one card with a count
// and a fresh timer. Platform notices (a moderator warning, a cut-off) outrank every warning.
// After a reconnect, warnings said while the page was away are shown with their age.
"use strict";
(function () {
  const config = pageConfig();
  applyTheme("top-left");

  const lifetimeMs = numberParam("seconds", config.warning_seconds, 0.1, 3600) * 1000;
  // after a reconnect, missed warnings up to this old are still shown (older ones are counted)
  const missedMaxAge = numberParam("missed", Math.max(120, (3 * lifetimeMs) / 1000), 0, 86400);
  const chime = new LivebotChime(flagParam("sound", config.sound), numberParam("volume", 0.8, 0, 1));

  const NOTICE_TITLES = { warning: "平台警告", cut_off: "直播被切断", login_notice: "登录提醒" };
  const RANK = { notice: 0, block: 1, warn: 2, info: 3 };

  const cards = new LivebotCards({
    box: document.getElementById("warnings"),
    more: document.getElementById("warnings-more"),
    maxVisible: Math.round(numberParam("max", 3, 1, 10)),
    minShowMs: Math.min(4000, lifetimeMs),
    moreText: (n) => "还有 " + n + " 条提醒",
    build,
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

  function ageText(seconds) {
    return seconds < 60 ? Math.round(seconds) + " 秒前" : Math.round(seconds / 60) + " 分钟前";
  }

  function add(ev, missedAge) {
    const key = keyOf(ev);
    const existing = cards.get(key);
    if (existing) {
      existing.count += 1; // said again: one card, a count, and a fresh full time on screen
      existing.ev = ev;
      existing.missedAge = missedAge;
      cards.refresh(existing);
      chime.play("repeat");
      return;
    }
    const isNotice = ev.type === "platform_notice";
    const rank = isNotice ? (ev.kind === "login_notice" ? RANK.info : RANK.notice) : RANK[severityOf(ev)];
    let lifetime = lifetimeMs;
    if (isNotice && ev.kind !== "login_notice") lifetime = 3 * lifetimeMs;
    else if (rank === RANK.block) lifetime = 1.5 * lifetimeMs;
    cards.add({ key, kind: isNotice ? "notice" : "warning", ev, rank, order: ev.seq, count: 1, missedAge, lifetime });
    chime.play(isNotice ? "block" : severityOf(ev));
  }

  let infoCount = 0;
  function info(text) {
    infoCount += 1;
    cards.add({ key: "info|" + infoCount, kind: "info", ev: null, text, rank: RANK.info, order: 1e15 + infoCount, count: 1, missedAge: null, lifetime: lifetimeMs });
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
