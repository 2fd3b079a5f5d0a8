// Live progress of a broadcast: counters pushed over the websocket replace the numbers;
// the rate and the time left are measured here from successive events.
(function () {
  "use strict";
  const root = document.getElementById("progress");
  if (!root) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const seen = {};
  let delay = 1000;

  function duration(seconds) {
    if (seconds < 60) return Math.ceil(seconds) + " s";
    if (seconds < 3600) return Math.ceil(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function update(data) {
    const box = root.querySelector('[data-sent="' + data.sent_id + '"]');
    if (!box) return;
    for (const el of box.querySelectorAll("[data-k]")) {
      if (data[el.dataset.k] !== undefined) el.textContent = data[el.dataset.k];
    }
    const processed = data.total - data.pending;
    const bar = box.querySelector("progress");
    bar.max = data.total;
    bar.value = processed;
    const status = box.querySelector(".status");
    status.textContent = data.status_display || data.status;
    status.className = "status badge " + data.status;
    const now = performance.now() / 1000;
    const last = seen[data.sent_id];
    const rate = box.querySelector(".rate");
    if (data.pending === 0) {
      rate.textContent = "";
    } else if (last && processed > last.processed && now > last.time) {
      const perSecond = (processed - last.processed) / (now - last.time);
      rate.textContent = root.dataset.rateText
        .replace("%(rate)s", perSecond.toFixed(perSecond < 10 ? 1 : 0))
        .replace("%(left)s", duration(data.pending / perSecond));
    }
    if (!last || processed > last.processed) seen[data.sent_id] = { time: now, processed: processed };
    const active = Array.from(root.querySelectorAll(".status")).some((el) => /\b(queued|sending)\b/.test(el.className));
    const cancel = document.querySelector(".cancel-form");
    if (cancel) cancel.hidden = !active;
  }

  function connect() {
    const socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.onmessage = function (event) { update(JSON.parse(event.data)); };
    socket.onopen = function () { delay = 1000; };
    socket.onclose = function (event) {
      if (event.code === 4403) return;  // not allowed: do not retry
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
