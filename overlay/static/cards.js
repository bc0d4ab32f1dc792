// A queue of cards on an OBS page, so a burst stays readable.
//
// At most maxVisible cards are on screen; the rest wait, best rank first, then in arrival order.
// A card leaves when its lifetime is up, or earlier, once it has been up minShowMs, to make room
// for a waiting one. A more urgent card (lower rank) never waits behind a less urgent one: that
// one steps back into the queue and comes back later with a full lifetime. Items are merged by key: the caller finds an item with get(key) and calls
// refresh(item) after changing it, which redraws it and gives it a fresh full lifetime.
"use strict";

class LivebotCards {
  // options: {box, more, maxVisible, minShowMs, build(item) -> Element, moreText(n) -> string}
  constructor(options) {
    this.o = options;
    this.items = new Map(); // key -> item (on screen or waiting)
    this.waiting = [];
    setInterval(() => this.pump(), 200);
  }

  get(key) {
    return this.items.get(key);
  }

  // item: {key, rank, order, lifetime (ms), ...whatever build() needs}
  add(item) {
    item.node = null;
    item.shownAt = 0;
    this.items.set(item.key, item);
    this.waiting.push(item);
    this.waiting.sort((a, b) => a.rank - b.rank || a.order - b.order);
    this.pump();
  }

  refresh(item) {
    if (!item.node) return; // a waiting item is drawn when it is shown
    const old = item.node;
    this.draw(item);
    old.replaceWith(item.node);
    item.node.classList.add("bump");
  }

  draw(item) {
    const node = this.o.build(item);
    const bar = el("div", "timer");
    bar.style.animationDuration = item.lifetime + "ms";
    node.append(bar);
    item.node = node;
    item.shownAt = performance.now();
  }

  show(item) {
    this.draw(item);
    this.o.box.prepend(item.node);
  }

  // Off screen but not forgotten: back into the queue (merges keep counting on it).
  requeue(item) {
    const node = item.node;
    item.node = null;
    node.classList.add("leaving");
    node.dataset.leaving = "1";
    setTimeout(() => node.remove(), 220);
    this.waiting.push(item);
    this.waiting.sort((a, b) => a.rank - b.rank || a.order - b.order);
  }

  dismiss(item) {
    this.items.delete(item.key);
    const node = item.node;
    item.node = null;
    if (!node) return;
    node.classList.add("leaving");
    node.dataset.leaving = "1";
    setTimeout(() => node.remove(), 220);
  }

  visible() {
    return [...this.items.values()].filter((it) => it.node);
  }

  pump() {
    const now = performance.now();
    for (const item of this.visible()) {
      if (now - item.shownAt >= item.lifetime) this.dismiss(item);
    }
    while (this.waiting.length && this.visible().length >= this.o.maxVisible) {
      const worst = this.visible().sort((a, b) => b.rank - a.rank || b.shownAt - a.shownAt)[0];
      if (!(this.waiting[0].rank < worst.rank)) break;
      const urgent = this.waiting.shift();
      this.requeue(worst);
      this.show(urgent);
    }
    if (this.waiting.length) {
      let free = this.o.maxVisible - this.visible().length;
      const readable = this.visible()
        .filter((it) => now - it.shownAt >= Math.min(this.o.minShowMs, it.lifetime))
        .sort((a, b) => a.shownAt - b.shownAt);
      // waiting cards bump cards that have had their minimum time on screen
      while (free < Math.min(this.waiting.length, this.o.maxVisible) && readable.length) {
        this.dismiss(readable.shift());
        free += 1;
      }
      while (free > 0 && this.waiting.length) {
        this.show(this.waiting.shift());
        free -= 1;
      }
    }
    if (this.o.more) {
      this.o.more.textContent = this.waiting.length ? this.o.moreText(this.waiting.length) : "";
      this.o.more.hidden = this.waiting.length === 0;
    }
  }
}
