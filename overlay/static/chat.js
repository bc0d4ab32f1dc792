// Chat overlay: the room's chat, gifts, super chats and memberships, so a small streamer needs
// only livebot in OBS. Every name and message is untrusted and only ever set as textContent.
// Lines sit on the bottom of the box (chat.css): the newest is always fully in view, the oldest
// leave over the top edge and are removed beyond ?max=.
//
// ?max= lines (default 14), ?fade= seconds after which a line fades out (default 0: never),
// ?enter=1 also shows follows. Super chats are pinned above the chat for their paid duration
// (at least ?pin= seconds, default 30) and leave when the platform deletes them.
"use strict";
(function () {
  const config = pageConfig();
  applyTheme("bottom-left");
  const lines = document.getElementById("chat-lines");
  const pinned = document.getElementById("chat-pinned");
  const maxLines = Math.round(numberParam("max", 14, 1, 100));
  const fadeSeconds = numberParam("fade", 0, 0, 3600);
  const minPinSeconds = numberParam("pin", 30, 0, 3600);
  const showFollows = flagParam("enter", false);
  const backlogSeconds = numberParam("backlog", 300, 0, 86400); // on load, lines up to this old
  const GUARDS = { 1: "总督", 2: "提督", 3: "舰长" };

  function money(price, currency) {
    const n = Number(price) || 0;
    const sign = !currency || currency === "CNY" ? "¥" : currency + " ";
    return sign + (Number.isInteger(n) ? String(n) : n.toFixed(2));
  }

  // Name with its badges: role, guard level, fan medal.
  function who(ev) {
    const span = el("span", "who");
    const user = ev.user || {};
    const roles = Array.isArray(user.roles) ? user.roles : [];
    if (roles.includes("anchor")) span.append(el("span", "badge role-anchor", "主播"));
    else if (roles.includes("bot")) span.append(el("span", "badge role-bot", "助手"));
    else if (roles.includes("moderator")) span.append(el("span", "badge role-mod", "房管"));
    if (GUARDS[user.guard]) span.append(el("span", "badge guard guard-" + user.guard, GUARDS[user.guard]));
    if (user.medal && user.medal.name) span.append(el("span", "badge medal", user.medal.name + " " + (user.medal.level || "")));
    span.append(el("span", "name", userName(ev)));
    return span;
  }

  function lineFor(ev) {
    const line = el("div", "line");
    line.dataset.seq = String(ev.seq);
    line.dataset.type = ev.type;
    const roles = ev.user && Array.isArray(ev.user.roles) ? ev.user.roles : [];
    if (ev.type === "chat") {
      if (roles.includes("anchor")) line.classList.add("from-anchor");
      if (roles.includes("bot")) line.classList.add("from-bot");
      line.append(who(ev), el("span", "sep", "："), el("span", "text", ev.text));
    } else if (ev.type === "gift") {
      line.classList.add("gift");
      const what = el("span", "text");
      what.append(document.createTextNode("送出 "), el("b", "gift-name", ev.gift_name), document.createTextNode(" ×" + (Number(ev.count) || 1)));
      line.append(who(ev), what);
      if (ev.paid && Number(ev.price) > 0) line.append(el("span", "price", money(ev.price, ev.currency)));
    } else if (ev.type === "guard_buy") {
      line.classList.add("guard-buy");
      const months = Number(ev.months) || 1;
      line.append(who(ev), el("span", "text", "开通了 " + (GUARDS[ev.level] || "会员") + (months > 1 ? " ×" + months + "个月" : "")));
    } else if (ev.type === "enter") {
      line.classList.add("follow");
      line.append(who(ev), el("span", "text", ev.kind === "share" ? "分享了直播间" : "关注了主播"));
    } else {
      return null;
    }
    return line;
  }

  function append(line) {
    lines.append(line);
    while (lines.children.length > maxLines) lines.firstElementChild.remove();
    if (fadeSeconds > 0) setTimeout(() => line.classList.add("faded"), fadeSeconds * 1000);
  }

  function pin(ev, ageSeconds) {
    const tier = ev.price >= 500 ? 4 : ev.price >= 100 ? 3 : ev.price >= 50 ? 2 : 1;
    const card = el("div", "sc tier-" + tier);
    card.dataset.sc = String(ev.sc_id || ev.seq);
    const top = el("div", "sc-head");
    top.append(who(ev), el("span", "price", money(ev.price, ev.currency)));
    card.append(top, el("div", "sc-text", ev.text));
    pinned.prepend(card);
    while (pinned.children.length > 3) pinned.lastElementChild.remove();
    const seconds = Math.max(minPinSeconds, Number(ev.duration) || 0) - ageSeconds;
    setTimeout(() => card.remove(), Math.max(0, seconds) * 1000);
  }

  new LivebotFeed(config, {
    types: ["chat", "gift", "super_chat", "super_chat_delete", "guard_buy", "enter"],
    onEvent(ev, meta) {
      if (ev.type === "super_chat_delete") {
        const ids = Array.isArray(ev.sc_ids) ? ev.sc_ids.map(String) : [];
        for (const card of [...pinned.children]) if (ids.includes(card.dataset.sc)) card.remove();
        return;
      }
      if (meta.replayed && meta.age > backlogSeconds) return;
      if (ev.type === "super_chat") {
        const duration = Math.max(minPinSeconds, Number(ev.duration) || 0);
        if (!meta.replayed || meta.age < duration) pin(ev, meta.replayed ? meta.age : 0);
        return;
      }
      if (ev.type === "enter" && (!showFollows || ev.kind === "enter")) return;
      const line = lineFor(ev);
      if (line) append(line);
    },
  });
})();
