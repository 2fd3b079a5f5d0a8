// New messages in a Telegram chat view arrive over a websocket and are appended once.
(function () {
  const list = document.getElementById("tg-chat");
  if (!list || !("WebSocket" in window)) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let delay = 1000;
  function connect() {
    const socket = new WebSocket(scheme + location.host + list.dataset.socket);
    socket.onmessage = function (event) {
      const data = JSON.parse(event.data);
      if (list.querySelector('[data-id="in-' + data.id + '"]')) return;
      const empty = list.querySelector(".tg-empty");
      if (empty) empty.remove();
      list.insertAdjacentHTML("beforeend", data.html);
      list.lastElementChild.scrollIntoView({block: "nearest"});
    };
    socket.onopen = function () { delay = 1000; };
    socket.onclose = function (event) {
      if (event.code === 4403) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
