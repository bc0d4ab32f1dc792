// Warnings overlay: the phrase the anchor just said, why it is a problem, and what to say instead.
"use strict";
(function () {
  const config = pageConfig();
  const box = document.getElementById("warnings");
  const shown = new Map(); // phrase -> {node, count, timer}
  const MAX_VISIBLE = 4;

  function dismiss(key) {
    const item = shown.get(key);
    if (!item) return;
    shown.delete(key);
    item.node.remove();
  }

  function show(ev) {
    const key = ev.rule + "|" + ev.phrase;
    const existing = shown.get(key);
    if (existing) {
      existing.count += 1;
      existing.node.querySelector(".count").textContent = "×" + existing.count;
      clearTimeout(existing.timer);
      existing.timer = setTimeout(() => dismiss(key), config.warning_seconds * 1000);
      return;
    }
    const node = el("div", "lb-warning sev-" + ev.severity);
    node.dataset.rule = ev.rule;
    const head = el("div", "head");
    head.append(el("span", "phrase", ev.matched || ev.phrase), el("span", "count", ""), el("span", "category", ev.category));
    node.append(head, el("div", "basis", ev.basis), el("div", "suggestion", ev.suggestion));
    box.prepend(node);
    const item = { node, count: 1, timer: setTimeout(() => dismiss(key), config.warning_seconds * 1000) };
    shown.set(key, item);
    while (box.children.length > MAX_VISIBLE) {
      const last = box.lastElementChild;
      for (const [k, v] of shown) if (v.node === last) dismiss(k);
    }
  }

  new LivebotFeed(config, {
    types: ["warning"],
    onEvent(ev) {
      if (ev.type === "warning") show(ev);
    },
  });
})();
