// FAQ answer card: the viewer's question (their name and words) and the shop's answer.
//
// Cards queue (cards.js; ?max= on screen at once, default 1) and stay [overlay] faq_seconds
// (?seconds=). Another viewer asking the same thing while its card is up joins that card
// ("小鹿 等 3 人问") instead of queueing a duplicate. This page is on stream: it shows no
// internal detail (why a chat reply was held back is for the console).
// The responder reports one question more than once (held for a cooldown, then sent later with
// the merged askers, or dropped as stale); the card shows each question once.
"use strict";
(function () {
  const config = pageConfig();
  applyTheme("bottom-right");
  const lifetimeMs = numberParam("seconds", config.faq_seconds, 0.1, 3600) * 1000;
  const SHOWN_ACTIONS = ["sent", "held", "failed"];

  const cards = new LivebotCards({
    box: document.getElementById("faq"),
    more: null,
    maxVisible: Math.round(numberParam("max", 1, 1, 5)),
    minShowMs: Math.min(5000, lifetimeMs),
    build,
  });

  const seenQuestions = new Map(); // faq|asker|text -> when first shown (ms)

  function alreadyShown(ev) {
    const asker = ev.user && typeof ev.user === "object" ? ev.user.id + "|" + ev.user.name : "";
    const key = ev.faq_id + "|" + asker + "|" + ev.text;
    const now = Date.now();
    for (const [k, at] of seenQuestions) if (now - at > 15 * 60 * 1000) seenQuestions.delete(k);
    if (seenQuestions.has(key)) return true;
    seenQuestions.set(key, now);
    return false;
  }

  function askersOf(ev) {
    const list = Array.isArray(ev.askers) && ev.askers.length ? ev.askers : ev.user ? [ev.user] : [];
    return list.filter((u) => u && typeof u === "object");
  }

  function build(item) {
    const ev = item.ev;
    const node = el("div", "lb-card lb-faq");
    node.dataset.faq = String(ev.faq_id || "");
    node.dataset.seq = String(ev.seq);
    const who = el("div", "who");
    const first = item.askers.length ? item.askers[0] : null;
    who.append(el("span", "q-badge", "问"), el("span", "name", first && first.name ? first.name : "观众"));
    if (item.askers.length > 1) who.append(el("span", "more-askers", "等 " + item.askers.length + " 人问"));
    node.append(who, el("div", "question", item.questionText));
    const answer = el("div", "answer");
    answer.append(el("span", "a-badge", "答"), el("span", "answer-text", ev.answer));
    node.append(answer);
    return node;
  }

  new LivebotFeed(config, {
    types: ["faq_reply"],
    onEvent(ev, meta) {
      if (ev.type !== "faq_reply" || !SHOWN_ACTIONS.includes(ev.action) || !ev.answer) return;
      if (meta.replayed && meta.age * 1000 >= lifetimeMs) return; // its moment has passed
      if (alreadyShown(ev)) return;
      const key = "faq|" + ev.faq_id;
      const existing = cards.get(key);
      const askers = askersOf(ev);
      if (existing) {
        const seen = new Set(existing.askers.map((u) => u.id + "|" + u.name));
        for (const u of askers) if (!seen.has(u.id + "|" + u.name)) existing.askers.push(u);
        existing.ev = ev;
        cards.refresh(existing);
        return;
      }
      cards.add({ key, ev, askers, questionText: ev.text || ev.question || "", rank: 0, order: ev.seq, lifetime: lifetimeMs });
    },
  });
})();
