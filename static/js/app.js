// Pitwall's own few lines: CSRF header, live resume ids, drag and drop, presence, toasts.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) event.detail.headers["X-CSRF-Token"] = csrf.content;
  });

  // Remember the newest live id, so that when htmx opens a fresh EventSource after an error the
  // server replays from there (a browser's own reconnect sends Last-Event-ID by itself).
  var lastEventId = null;
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.lastEventId) lastEventId = event.detail.lastEventId;
  });
  if (window.htmx) {
    htmx.createEventSource = function (url) {
      if (lastEventId) {
        var parsed = new URL(url, window.location.href);
        parsed.searchParams.set("last_event_id", lastEventId);
        url = parsed.pathname + parsed.search;
      }
      return new EventSource(url, { withCredentials: true });
    };
  }

  // Drag and drop is a shortcut for the move menu on each card; the server decides either way.
  function enableDragAndDrop(root) {
    if (!window.Sortable) return;
    root.querySelectorAll(".board.can-move .cards").forEach(function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: "board",
        animation: 120,
        filter: "select, button, input, label",
        preventOnFilter: false,
        onEnd: function (event) {
          var card = event.item;
          var target = event.to.dataset.status;
          if (!target || target === event.from.dataset.status) return;
          var form = card.querySelector("form.move");
          if (!form) return;
          htmx.ajax("POST", form.getAttribute("hx-post"), {
            source: form,
            swap: "none",
            values: { status: target, version: card.dataset.version },
          });
        },
      });
    });
  }
  document.addEventListener("htmx:load", function (event) { enableDragAndDrop(document); });
  document.addEventListener("DOMContentLoaded", function () { enableDragAndDrop(document); });

  // Toasts fade out after a while; errors stay a little longer.
  document.addEventListener("htmx:oobAfterSwap", expireToasts);
  document.addEventListener("DOMContentLoaded", expireToasts);
  function expireToasts() {
    document.querySelectorAll("#toasts .toast:not([data-expiring])").forEach(function (toast) {
      toast.dataset.expiring = "1";
      var delay = toast.classList.contains("toast-error") ? 9000 : 5000;
      setTimeout(function () { toast.remove(); }, delay);
    });
  }

  // Presence: who else has this page open, over the WebSocket.
  function startPresence() {
    var badges = document.querySelectorAll("[data-presence-topic]");
    if (!badges.length) return;
    var topics = Array.prototype.map.call(badges, function (b) { return b.dataset.presenceTopic; });
    var delay = 1000, socket = null, pinger = null;
    function connect() {
      var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(scheme + "//" + window.location.host + "/ws");
      socket.onopen = function () {
        delay = 1000;
        topics.forEach(function (topic) { socket.send(JSON.stringify({ type: "subscribe", topic: topic })); });
        pinger = setInterval(function () { socket.send(JSON.stringify({ type: "ping" })); }, 25000);
      };
      socket.onmessage = function (event) {
        var message = JSON.parse(event.data);
        if (message.type !== "presence") return;
        badges.forEach(function (badge) {
          if (badge.dataset.presenceTopic !== message.topic) return;
          var template = message.count === 1 ? badge.dataset.one : badge.dataset.many;
          badge.textContent = (template || "{n} watching").replace("{n}", message.count);
          badge.title = message.names.join(", ");
        });
      };
      socket.onclose = function () {
        clearInterval(pinger);
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }
  document.addEventListener("DOMContentLoaded", startPresence);
})();
