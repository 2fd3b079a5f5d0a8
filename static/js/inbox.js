// The header's unread counter: the server pushes {"unread": n} over the websocket when a
// stored message arrives or is read (also in another tab); reconnects with backoff.
(function () {
  "use strict";
  const badge = document.getElementById("unread-badge");
  if (!badge || !window.WebSocket) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let delay = 1000;

  function connect() {
    const socket = new WebSocket(scheme + location.host + badge.dataset.socket);
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (event) {
      const data = JSON.parse(event.data);
      if (typeof data.unread !== "number") return;
      badge.textContent = data.unread;
      badge.hidden = data.unread === 0;
      badge.dataset.count = data.unread;
    };
    socket.onclose = function (event) {
      if (event.code === 4403) return;  // refused: not a recipient, or logged out
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
