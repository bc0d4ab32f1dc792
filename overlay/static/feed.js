// livebot overlay feed: one room's events over a websocket, with replay after reconnects.
// Plain ES2020, no build step: it runs in OBS's browser source as it is.
//
// LivebotFeed asks for the room's whole replay window on its first connection and keeps the
// highest sequence id it has seen; every reconnect asks for ?after=<seq>, so a page that lost its
// link (Wi-Fi, server restart, OBS reloading the source) is sent exactly what it missed. Each
// event reaches the page with its age on the server's clock, so a page decides what is still
// worth showing (a warning from two seconds ago: yes; one from an hour ago: no).
// It reconnects with exponential backoff and full jitter, and treats a silent link (no
// heartbeat) as dead. Its state is on <html data-feed="connecting|connected|disconnected">.
"use strict";

const LIVEBOT_QUERY = new URLSearchParams(location.search);

// A number from the page's URL (?name=...), clamped; the fallback when absent or not a number.
function numberParam(name, fallback, min, max) {
  const raw = LIVEBOT_QUERY.get(name);
  if (raw === null || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

// One of a fixed set of words from the page's URL; anything else is ignored.
function choiceParam(name, choices, fallback) {
  const raw = (LIVEBOT_QUERY.get(name) || "").toLowerCase();
  return choices.includes(raw) ? raw : fallback;
}

// On/off from the URL (?sound=0, ?sound=off), else the fallback.
function flagParam(name, fallback) {
  const raw = (LIVEBOT_QUERY.get(name) || "").toLowerCase();
  if (["0", "false", "off", "no"].includes(raw)) return false;
  if (["1", "true", "on", "yes"].includes(raw)) return true;
  return fallback;
}

const LIVEBOT_POSITIONS = ["top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"];

// URL theme parameters -> attributes and custom properties on <html> (see overlay.css).
function applyTheme(defaultPosition) {
  const root = document.documentElement;
  root.dataset.theme = choiceParam("theme", ["dark", "light"], "dark");
  root.dataset.position = choiceParam("position", LIVEBOT_POSITIONS, defaultPosition || "top-left");
  root.style.setProperty("--lb-scale", String(numberParam("scale", 1, 0.25, 4)));
  const opacity = numberParam("opacity", null, 0, 1);
  if (opacity !== null) root.style.setProperty("--lb-panel-alpha", String(opacity));
}

class LivebotFeed {
  // handlers: {types: [...], onEvent(ev, meta), onHello(hello, meta), onStatus(state)}
  // meta: {replayed: bool (sent as backlog, not live), age: seconds on the server's clock,
  //        reconnect: bool (not the page's first connection)}
  constructor(config, handlers) {
    this.config = config;
    this.handlers = handlers;
    this.lastSeq = 0; // first connection: the whole replay window; the page filters by age
    this.connections = 0;
    this.attempt = 0;
    this.ws = null;
    this.silenceTimer = null;
    this.retryTimer = null;
    this.types = handlers.types || [];
    this.backlogUpTo = 0; // events up to this seq were sent as replay, not live
    this.clockOffset = 0; // server time - local time, in seconds
    this.connect();
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ token: this.config.token, after: String(this.lastSeq) });
    if (this.types.length) params.set("types", this.types.join(","));
    return `${proto}//${location.host}${this.config.ws}?${params}`;
  }

  connect() {
    this.retryTimer = null;
    this.setStatus(this.connections ? "disconnected" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.armSilenceTimer(); // a connection that never says hello is dead too
    ws.onmessage = (msg) => {
      if (this.ws === ws) this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws === ws) this.scheduleReconnect();
    };
    ws.onerror = () => ws.close();
  }

  serverNow() {
    return Date.now() / 1000 + this.clockOffset;
  }

  onMessage(msg) {
    let data;
    try {
      data = JSON.parse(msg.data);
    } catch (err) {
      return;
    }
    if (!data || typeof data !== "object") return;
    this.armSilenceTimer();
    if (data.op === "hello") {
      this.attempt = 0;
      this.connections += 1;
      if (typeof data.now === "number") this.clockOffset = data.now - Date.now() / 1000;
      // The server forgot our place (restarted without its log): take what it has from the start.
      if (typeof data.last_seq === "number" && data.last_seq < this.lastSeq) this.lastSeq = 0;
      this.backlogUpTo = typeof data.last_seq === "number" ? data.last_seq : 0;
      this.setStatus("connected");
      if (this.handlers.onHello) this.handlers.onHello(data, { reconnect: this.connections > 1 });
    } else if (data.op === "event") {
      const ev = data.event;
      if (!ev || typeof ev.seq !== "number") return;
      if (ev.seq <= this.lastSeq) return; // already shown
      this.lastSeq = ev.seq;
      const meta = {
        replayed: ev.seq <= this.backlogUpTo,
        age: typeof ev.ts === "number" ? Math.max(0, this.serverNow() - ev.ts) : 0,
        reconnect: this.connections > 1,
      };
      if (this.handlers.onEvent) {
        try {
          this.handlers.onEvent(ev, meta);
        } catch (err) {
          // one malformed event must not stop the page
          console.error("livebot: cannot show event", ev.seq, err);
        }
      }
    }
  }

  armSilenceTimer() {
    clearTimeout(this.silenceTimer);
    // the server sends a heartbeat every 5 s; three missed ones mean the link is dead
    const ws = this.ws;
    this.silenceTimer = setTimeout(() => {
      if (ws && this.ws === ws) ws.close();
      if (ws && this.ws === ws) this.scheduleReconnect(); // close() of a half-open socket may never fire onclose
    }, 16000);
  }

  scheduleReconnect() {
    clearTimeout(this.silenceTimer);
    if (this.retryTimer !== null) return;
    this.ws = null;
    this.setStatus("disconnected");
    const ceiling = Math.min(10000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.random() * ceiling; // full jitter: a restarted server is not hit by every page at once
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  setStatus(state) {
    document.documentElement.dataset.feed = state;
    if (this.handlers.onStatus) this.handlers.onStatus(state);
  }
}

// Build an element from text only: viewer names and messages are never parsed as HTML.
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function pageConfig() {
  return JSON.parse(document.getElementById("livebot-config").textContent);
}

// A display name for an event's user (viewer text: only ever assigned to textContent).
function userName(ev) {
  return ev && ev.user && typeof ev.user.name === "string" && ev.user.name ? ev.user.name : "匿名";
}

function clockTime(ts) {
  const d = typeof ts === "number" ? new Date(ts * 1000) : new Date();
  return d.toLocaleTimeString("zh-CN", { hour12: false });
}

// Labels of the rule categories the built-in packs use; a merchant pack's own category shows as written.
const LIVEBOT_CATEGORIES = {
  absolute: "绝对化用语",
  authority: "权威背书",
  medical: "医疗功效",
  guarantee: "保证承诺",
  urgency_fraud: "虚假紧迫",
  false_data: "虚假数据",
  offsite: "站外交易",
  price: "价格违规",
  superstition: "封建迷信",
  vulgar: "低俗用语",
  minors: "未成年人",
  comparison: "贬低对手",
};
const LIVEBOT_SEVERITIES = { block: "严重", warn: "警告", info: "提示" };

function categoryLabel(category) {
  return LIVEBOT_CATEGORIES[category] || category || "";
}

function severityOf(ev) {
  return ["block", "warn", "info"].includes(ev.severity) ? ev.severity : "warn";
}
