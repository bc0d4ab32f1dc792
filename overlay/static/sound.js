// The warning chime, synthesized with the Web Audio API: no sound file to ship or to fail loading.
// OBS's browser source plays audio without a click; an ordinary browser tab may keep the audio
// context suspended until the first click or key press, so we resume it then.
"use strict";

class LivebotChime {
  constructor(enabled, volume) {
    this.enabled = enabled;
    this.volume = volume;
    this.ctx = null;
    this.lastAt = 0;
    if (enabled) {
      const resume = () => this.context() && this.ctx.resume();
      window.addEventListener("pointerdown", resume);
      window.addEventListener("keydown", resume);
    }
  }

  context() {
    if (!this.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.ctx = new Ctx();
    }
    return this.ctx;
  }

  // Tones by urgency: block = three rising high beeps, warn = two, info (and repeats) = one soft.
  play(level) {
    if (!this.enabled || this.volume <= 0) return;
    const now = performance.now();
    if (now - this.lastAt < 400) return; // a burst of warnings is one alarm, not a siren
    this.lastAt = now;
    const ctx = this.context();
    if (!ctx) return;
    if (ctx.state === "suspended") ctx.resume();
    const notes = {
      block: [988, 1319, 1760],
      warn: [880, 1175],
      info: [784],
      repeat: [660],
    }[level] || [880];
    const t0 = ctx.currentTime + 0.01;
    notes.forEach((freq, i) => {
      const start = t0 + i * 0.13;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = level === "block" ? "square" : "sine";
      osc.frequency.setValueAtTime(freq, start);
      // a quick attack and exponential decay: audible over music, not a click
      const peak = this.volume * (level === "block" ? 0.25 : 0.4);
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(peak, start + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.12);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.13);
    });
  }
}
