// Second-screen console: the live transcript with violations highlighted where they were said,
// recent warnings, FAQ replies (sent, held back and why, failed, abstained), the room's connection
// state and counters. A normal page for the anchor or ops; it replays the room's whole window on
// load, so opening it mid-show shows the last stretch of the show at once.
"use strict";
(function () {
  const config = pageConfig();
  const MAX_LINES = 400;
  const MAX_ROWS = 150;
  const SEV_ORDER = { info: 1, warn: 2, block: 3 };
  const ACTIONS = { sent: "已发送", held: "未发送", failed: "发送失败", abstain: "未回答", abstained: "未回答" };
  // why a chat reply was held back or sent late (bot/faq/responder.py); anything else shows as sent
  const REASONS = {
    sending_disabled: "未开启发送或无法发送",
    user_cooldown: "该观众冷却中",
    faq_cooldown: "同一问题冷却中",
    room_rate: "房间发言限速",
    duplicate_text: "与上一条回复相同",
    stale: "等待过久，已放弃",
    merged: "合并回复多位观众",
    delayed: "延后发送",
    flushed: "关闭前补发",
  };
  const ROOM_STATES = { connecting: "连接中", connected: "已连接", reconnecting: "重连中", closed: "已关闭", failed: "失败", starting: "启动中" };

  const transcript = document.getElementById("transcript");
  const jump = document.getElementById("transcript-jump");
  const warningList = document.getElementById("warning-list");
  const faqList = document.getElementById("faq-list");
  const statusList = document.getElementById("status-list");

  // --- transcript ------------------------------------------------------------------------------

  const lines = new Map(); // key -> line {key, node, text, final, regs: [{w, shift|null}]}
  const order = []; // keys, oldest first
  let unseen = 0;

  function nearBottom() {
    return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 60;
  }

  function scrollIfFollowing(wasNearBottom) {
    if (wasNearBottom) {
      transcript.scrollTop = transcript.scrollHeight;
      unseen = 0;
    } else {
      unseen += 1;
    }
    jump.hidden = unseen === 0;
    jump.textContent = "↓ " + unseen + " 条新字幕";
  }

  jump.addEventListener("click", () => {
    transcript.scrollTop = transcript.scrollHeight;
    unseen = 0;
    jump.hidden = true;
  });
  transcript.addEventListener("scroll", () => {
    if (nearBottom()) {
      unseen = 0;
      jump.hidden = true;
    }
  });

  function speechKey(segment) {
    return "s|" + segment;
  }

  function upsertLine(key, ev, text, final, kind) {
    const follow = nearBottom();
    let line = lines.get(key);
    const isNew = !line;
    if (isNew) {
      const node = el("div", "c-line c-" + kind);
      node.dataset.key = key;
      line = { key, node, text: "", final: false, regs: [], ts: ev.ts };
      lines.set(key, line);
      order.push(key);
      transcript.append(node);
      while (order.length > MAX_LINES) {
        const old = lines.get(order.shift());
        if (old) {
          old.node.remove();
          lines.delete(old.key);
        }
      }
    }
    line.text = typeof text === "string" ? text : "";
    line.final = final;
    line.ts = ev.ts;
    line.seq = ev.seq;
    render(line);
    if (isNew) scrollIfFollowing(follow);
    return line;
  }

  // Where a warning's span lies in a line: w.text is the utterance the offsets index into; when a
  // phrase was split over two segments it is the tail of the previous one plus this one.
  function locate(line, reg) {
    const w = reg.w;
    const wt = typeof w.text === "string" ? w.text : "";
    let shift = reg.shift;
    if (shift === null) {
      if (wt === line.text) shift = 0;
      else if (line.text && wt.endsWith(line.text)) shift = line.text.length - wt.length;
      else if (typeof w.context_start === "number" && typeof w.utterance_chars === "number" && w.utterance_chars > 0) {
        // w.text is a window of the utterance starting at context_start; the utterance may begin with
        // the tail of the previous segment, so its end lines up with the end of this line
        const s = w.context_start - (w.utterance_chars - line.text.length);
        if (line.text.slice(w.start + s, w.end + s) === wt.slice(w.start, w.end)) shift = s;
      }
    }
    if (shift !== null) {
      const start = Math.max(0, w.start + shift);
      const end = Math.min(line.text.length, w.end + shift);
      if (end > start) return [start, end];
      return null;
    }
    // the line was revised since (a partial corrected by its final): find the words themselves
    const said = w.matched || wt.slice(w.start, w.end);
    const at = said ? line.text.indexOf(said) : -1;
    return at >= 0 ? [at, at + said.length] : null;
  }

  function render(line) {
    const node = line.node;
    node.classList.toggle("partial", !line.final);
    const sevAt = new Array(line.text.length).fill(0);
    const titles = new Array(line.text.length).fill("");
    const ghosts = [];
    for (const reg of line.regs) {
      const range = locate(line, reg);
      const sev = SEV_ORDER[severityOf(reg.w)];
      if (!range) {
        if (!reg.spill) ghosts.push(reg.w);
        continue;
      }
      for (let i = range[0]; i < range[1]; i++) {
        if (sev > sevAt[i]) {
          sevAt[i] = sev;
          titles[i] = categoryLabel(reg.w.category) + "：" + (reg.w.suggestion ? "改说 " + reg.w.suggestion : reg.w.phrase);
        }
      }
    }
    const body = el("span", "c-text");
    let i = 0;
    while (i < line.text.length) {
      let j = i + 1;
      while (j < line.text.length && sevAt[j] === sevAt[i] && titles[j] === titles[i]) j++;
      const chunk = line.text.slice(i, j);
      if (sevAt[i]) {
        const mark = el("mark", "c-hit sev-" + ["", "info", "warn", "block"][sevAt[i]], chunk);
        mark.title = titles[i];
        body.append(mark);
      } else {
        body.append(document.createTextNode(chunk));
      }
      i = j;
    }
    const parts = [el("time", "c-time", clockTime(line.ts)), el("span", "c-src", line.key.startsWith("c|") ? "弹幕" : "口播"), body];
    for (const w of ghosts) {
      // said only in a partial result that the final corrected: still worth knowing
      const ghost = el("span", "c-ghost sev-" + severityOf(w), "曾说「" + (w.matched || w.phrase) + "」");
      ghost.title = "识别中途出现，最终文本已更正";
      parts.push(ghost);
    }
    node.replaceChildren(...parts);
    node.classList.toggle("has-hit", line.regs.length > 0);
  }

  function attachWarning(w) {
    let line = null;
    if (w.scope === "chat") line = lines.get("c|" + w.source_seq);
    else line = lines.get(speechKey(w.segment));
    if (!line) return null;
    line.regs.push({ w, shift: null, spill: false });
    // split over two segments: the head of w.text is the tail of the line before
    const wt = typeof w.text === "string" ? w.text : "";
    if (line.key.startsWith("s|") && wt !== line.text && wt.endsWith(line.text)) {
      const off = wt.length - line.text.length;
      if (w.start < off) {
        const idx = order.indexOf(line.key);
        for (let k = idx - 1; k >= 0 && k >= idx - 3; k--) {
          const prev = lines.get(order[k]);
          if (prev && prev.key.startsWith("s|") && prev.text.endsWith(wt.slice(0, off))) {
            prev.regs.push({ w, shift: prev.text.length - off, spill: true });
            render(prev);
            break;
          }
        }
      }
    }
    render(line);
    return line;
  }

  // --- side panels -----------------------------------------------------------------------------

  function prependRow(list, row) {
    list.prepend(row);
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  const recentWarnings = new Map(); // rule|phrase -> {row, count, at}

  function addWarningRow(w, line) {
    const key = w.rule + "|" + (w.phrase || w.matched);
    const recent = recentWarnings.get(key);
    if (recent && recent.row.isConnected && w.ts - recent.at < 60) {
      recent.count += 1;
      recent.at = w.ts;
      recent.row.querySelector(".c-count").textContent = "×" + recent.count;
      recent.row.querySelector(".c-time").textContent = clockTime(w.ts);
      warningList.prepend(recent.row);
      return;
    }
    const sev = severityOf(w);
    const row = el("li", "c-row c-warning sev-" + sev);
    row.dataset.seq = String(w.seq);
    const head = el("div", "c-row-head");
    head.append(
      el("time", "c-time", clockTime(w.ts)),
      el("span", "c-sev", LIVEBOT_SEVERITIES[sev]),
      el("b", "c-phrase", w.matched || w.phrase),
      el("span", "c-count", ""),
      el("span", "c-cat", categoryLabel(w.category) + (w.scope === "chat" ? " · 弹幕" : ""))
    );
    row.append(head);
    if (w.suggestion) row.append(el("div", "c-suggest", "改说：" + w.suggestion));
    if (w.basis) row.append(el("div", "c-basis", w.basis));
    if (line) {
      row.classList.add("linked");
      row.addEventListener("click", () => {
        const target = lines.get(line.key);
        if (!target) return;
        target.node.scrollIntoView({ block: "center" });
        target.node.classList.remove("flash");
        void target.node.offsetWidth;
        target.node.classList.add("flash");
      });
    }
    recentWarnings.set(key, { row, count: 1, at: w.ts });
    prependRow(warningList, row);
  }

  function addFaqRow(f) {
    const action = typeof f.action === "string" ? f.action : "";
    const row = el("li", "c-row c-faq action-" + action.replace(/[^a-z_]/g, ""));
    row.dataset.seq = String(f.seq);
    row.dataset.action = action;
    const head = el("div", "c-row-head");
    const askers = Array.isArray(f.askers) && f.askers.length ? f.askers : f.user ? [f.user] : [];
    const names = askers.map((u) => (u && u.name) || "匿名");
    head.append(
      el("time", "c-time", clockTime(f.ts)),
      el("span", "c-action", ACTIONS[action] || action || "?"),
      el("b", "c-askers", names.slice(0, 3).join("、") + (names.length > 3 ? " 等" + names.length + "人" : ""))
    );
    row.append(head, el("div", "c-q", "问：" + (f.text || "")));
    if (f.question) {
      const score = typeof f.score === "number" && f.score ? "（" + f.score.toFixed(2) + "）" : "";
      row.append(el("div", "c-match", "匹配：" + f.question + score));
    }
    if (f.chat_text || f.answer) row.append(el("div", "c-a", (action === "sent" ? "已回复：" : "答案：") + (f.chat_text || f.answer)));
    if (f.reason) {
      const label = Object.prototype.hasOwnProperty.call(REASONS, f.reason) ? REASONS[f.reason] + "（" + f.reason + "）" : f.reason;
      row.append(el("div", "c-reason", "原因：" + label));
    }
    prependRow(faqList, row);
  }

  function addStatusRow(text, state, ts) {
    const row = el("li", "c-row c-status-row state-" + String(state).replace(/[^a-z_]/g, ""));
    row.append(el("time", "c-time", clockTime(ts)), el("span", "c-status-text", text));
    prependRow(statusList, row);
  }

  function setPill(id, state, text, title) {
    const pill = document.getElementById(id);
    pill.dataset.state = state;
    pill.textContent = text;
    if (title !== undefined) pill.title = title;
  }

  // --- counters --------------------------------------------------------------------------------

  const counts = {
    speech: 0, block: 0, warn: 0, info: 0, notices: 0, chat: 0, questions: 0,
    faq_sent: 0, faq_held: 0, faq_failed: 0, faq_other: 0, gifts: 0, gift_value: 0, super_chats: 0, guards: 0,
  };
  let server = null;
  const COUNTER_LABELS = [
    ["speech", "口播段"],
    ["block", "严重警告"],
    ["warn", "警告"],
    ["info", "提示"],
    ["notices", "平台通知"],
    ["chat", "弹幕"],
    ["faq_sent", "FAQ 已回复"],
    ["faq_held", "FAQ 未发送"],
    ["faq_failed", "FAQ 发送失败"],
    ["faq_other", "FAQ 未回答"],
    ["gifts", "礼物"],
    ["gift_value", "礼物金额 ¥"],
    ["super_chats", "醒目留言"],
    ["guards", "上舰"],
  ];
  let countersDirty = false;

  function drawCounters() {
    countersDirty = false;
    const dl = document.getElementById("counters");
    const parts = [];
    const pair = (key, label, value) => {
      const box = el("div", "c-counter");
      const dd = el("dd", "c-n-" + key, value);
      dd.dataset.counter = key;
      box.append(el("dt", null, label), dd);
      parts.push(box);
      return dd;
    };
    for (const [key, label] of COUNTER_LABELS) {
      pair(key, label, key === "gift_value" ? counts[key].toFixed(1) : String(counts[key]));
    }
    if (server) {
      const SERVER = [["events", "服务端事件"], ["warnings", "服务端警告"], ["replies", "已发弹幕回复"], ["errors", "处理出错"], ["queued", "排队中"]];
      for (const [key, label] of SERVER) {
        if (typeof server[key] !== "number") continue;
        const dd = pair("server-" + key, label, String(server[key]));
        if (key === "errors" && server[key] > 0) dd.classList.add("bad");
      }
      // work shed under overload, in the declared order; every message is still in the audit log
      const SHED = [["faq", "过载：未做 FAQ 匹配"], ["rules", "过载：未做弹幕规则检查"], ["feed", "过载：仅写入审计日志"]];
      const shed = server.shed && typeof server.shed === "object" ? server.shed : null;
      for (const [key, label] of shed ? SHED : []) {
        if (typeof shed[key] !== "number") continue;
        const dd = pair("shed-" + key, label, String(shed[key]));
        if (shed[key] > 0) dd.classList.add("bad");
      }
    }
    dl.replaceChildren(...parts);
  }

  function bump() {
    if (!countersDirty) {
      countersDirty = true;
      requestAnimationFrame(drawCounters);
    }
  }

  // --- events ----------------------------------------------------------------------------------

  function onEvent(ev) {
    switch (ev.type) {
      case "speech":
        if (ev.final) counts.speech += 1;
        upsertLine(speechKey(ev.segment), ev, ev.text, !!ev.final, "speech");
        break;
      case "chat": {
        counts.chat += 1;
        const roles = ev.user && Array.isArray(ev.user.roles) ? ev.user.roles : [];
        if (roles.includes("anchor")) upsertLine("c|" + ev.seq, ev, ev.text, true, "anchor-chat");
        break;
      }
      case "warning": {
        const sev = severityOf(ev);
        counts[sev] += 1;
        const line = attachWarning(ev);
        addWarningRow(ev, line);
        document.getElementById("warning-total").textContent = "共 " + (counts.block + counts.warn + counts.info) + " 条";
        break;
      }
      case "faq_reply": {
        const key = ["sent", "held", "failed"].includes(ev.action) ? "faq_" + ev.action : "faq_other";
        counts[key] += 1;
        addFaqRow(ev);
        break;
      }
      case "platform_notice":
        counts.notices += 1;
        addStatusRow("平台通知（" + (ev.kind || "?") + "）：" + (ev.text || ""), "notice", ev.ts);
        break;
      case "room_status":
        setPill("room-state", ev.state, "房间：" + (ROOM_STATES[ev.state] || ev.state), ev.detail || "");
        addStatusRow("房间 " + (ROOM_STATES[ev.state] || ev.state) + (ev.detail ? "：" + ev.detail : ""), ev.state, ev.ts);
        break;
      case "live_status":
        setPill("live-state", ev.status, ev.status === "live" ? "直播中" : "未开播（" + ev.status + "）");
        addStatusRow("直播状态：" + ev.status, ev.status, ev.ts);
        break;
      case "gift":
        counts.gifts += Number(ev.count) || 1;
        if (ev.paid) counts.gift_value += Number(ev.price) || 0;
        break;
      case "super_chat":
        counts.super_chats += 1;
        counts.gift_value += Number(ev.price) || 0;
        break;
      case "guard_buy":
        counts.guards += 1;
        counts.gift_value += Number(ev.price) || 0;
        break;
      default:
        return;
    }
    bump();
  }

  const FEED_STATES = { connecting: "连接中…", connected: "实时", disconnected: "已断开，重连中…" };
  new LivebotFeed(config, {
    onEvent,
    onStatus(state) {
      setPill("feed-state", state, FEED_STATES[state] || state);
    },
    onHello(hello, meta) {
      if (hello.gap) addStatusRow(meta.reconnect ? "断线期间有事件超出回放窗口，可能缺失" : "更早的事件已超出回放窗口", "gap", Date.now() / 1000);
    },
  });

  // /healthz: the room's state as the service sees it, and whether the service answers at all
  async function pollHealth() {
    try {
      const res = await fetch("/healthz", { cache: "no-store" });
      const body = await res.json();
      const room = body && body.rooms ? body.rooms[config.room] : null;
      server = room || null;
      const ok = res.ok && body.ok !== false;
      setPill("health-state", ok ? "ok" : "bad", ok ? "服务正常 · 运行 " + Math.round(body.uptime || 0) + " 秒" : "服务异常");
      if (room && typeof room.state === "string") {
        setPill("room-state", room.state, "房间：" + (ROOM_STATES[room.state] || room.state), room.detail || "");
      }
      bump();
    } catch (err) {
      setPill("health-state", "bad", "服务无响应");
    }
  }
  pollHealth();
  setInterval(pollHealth, 3000);
  drawCounters();
})();
