// Live progress of a broadcast: counters pushed over the websocket replace the numbers;
// the rate and the time left are measured here from successive events. Any change (and a
// "page" nudge for readers and replies) reloads the page's other live parts, the elements
// marked data-live (rows, read-online, replies, retry), from the server: one fetch at a
// time, at most every half second. A status region announces progress and the end.
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

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, (whole, key) => (values[key] !== undefined ? values[key] : whole));
  }

  // --- Announcements: the status region says where each method is, not too often -------
  const announcer = document.getElementById("progress-status");
  const announced = {};
  function announce(box, data) {
    const method = box.querySelector("h2").dataset.method;
    const finished = data.pending === 0 && !/^(queued|sending)$/.test(data.status);
    const last = announced[data.sent] || { time: 0, finished: false };
    const now = performance.now();
    if (finished && last.finished) return;
    if (!finished && now - last.time < 5000) return;
    announced[data.sent] = { time: now, finished: finished };
    announcer.textContent = finished
      ? fill(root.dataset.finalText, { method: method, status: data.status_display, sent: data.sent, delivered: data.delivered, failed: data.failed })
      : fill(root.dataset.progressText, { method: method, done: data.total - data.pending, total: data.total });
  }

  // --- The other live parts, reloaded from the page itself ----------------------------
  let fetching = false;
  let again = false;
  let timer = null;
  function refreshSoon() {
    if (timer) return;
    timer = setTimeout(refresh, 500);
  }
  async function refresh() {
    timer = null;
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const response = await fetch(location.href, { headers: { "X-Requested-With": "live" }, credentials: "same-origin" });
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const part of document.querySelectorAll("[data-live]")) {
          const replacement = fresh.getElementById(part.id);
          if (replacement && !part.contains(document.activeElement) && replacement.innerHTML !== part.innerHTML) {
            part.replaceChildren(...Array.from(replacement.childNodes).map((n) => document.importNode(n, true)));
          }
        }
      }
    } finally {
      fetching = false;
      if (again) { again = false; refreshSoon(); }
    }
  }

  function update(data) {
    if (data.kind === "page") { refreshSoon(); return; }
    const box = root.querySelector('[data-sent="' + data.sent_id + '"]');
    if (!box) return;
    refreshSoon();
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
    announce(box, data);
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
