// livebot overlay feed: one room's events over a websocket, with replay after reconnects.
// Plain ES2020, no build step: it runs in OBS's browser source as it is.
//
// LivebotFeed keeps the highest sequence id it has shown and reconnects with ?after=<seq>, so a
// page that lost its link (Wi-Fi, server restart) is sent exactly what it missed. It reconnects
// with exponential backoff and full jitter, and treats a silent link (no heartbeat) as dead.
"use strict";

class LivebotFeed {
  constructor(config, handlers) {
    this.config = config;
    this.handlers = handlers;
    this.lastSeq = null; // null until the first hello: start with live events only
    this.attempt = 0;
    this.ws = null;
    this.silenceTimer = null;
    this.types = handlers.types || [];
    this.connect();
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ token: this.config.token });
    if (this.lastSeq !== null) params.set("after", String(this.lastSeq));
    if (this.types.length) params.set("types", this.types.join(","));
    return `${proto}//${location.host}${this.config.ws}?${params}`;
  }

  connect() {
    this.setStatus("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (msg) => this.onMessage(msg);
    ws.onclose = () => {
      if (this.ws === ws) this.scheduleReconnect();
    };
    ws.onerror = () => ws.close();
  }

  onMessage(msg) {
    let data;
    try {
      data = JSON.parse(msg.data);
    } catch (err) {
      return;
    }
    this.armSilenceTimer();
    if (data.op === "hello") {
      this.attempt = 0;
      this.setStatus("connected");
      if (this.lastSeq === null) this.lastSeq = data.last_seq;
      else if (data.last_seq < this.lastSeq) this.lastSeq = 0; // the server forgot us: take what it has
    } else if (data.op === "event") {
      const ev = data.event;
      if (this.lastSeq !== null && ev.seq <= this.lastSeq) return; // already shown
      this.lastSeq = ev.seq;
      if (this.handlers.onEvent) this.handlers.onEvent(ev);
    }
  }

  armSilenceTimer() {
    clearTimeout(this.silenceTimer);
    // the server sends a heartbeat every 5 s; three missed ones mean the link is dead
    this.silenceTimer = setTimeout(() => {
      if (this.ws) this.ws.close();
    }, 16000);
  }

  scheduleReconnect() {
    clearTimeout(this.silenceTimer);
    this.ws = null;
    this.setStatus("disconnected");
    const ceiling = Math.min(10000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.random() * ceiling; // full jitter
    setTimeout(() => this.connect(), delay);
  }

  setStatus(state) {
    document.documentElement.dataset.feed = state;
    if (this.handlers.onStatus) this.handlers.onStatus(state);
  }
}

// Build an element tree from text only: viewer names and messages are never parsed as HTML.
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function pageConfig() {
  return JSON.parse(document.getElementById("livebot-config").textContent);
}
