// Pitwall's own few lines: CSRF header, live resume ids, connection state, drag and drop, focus,
// presence, toasts.
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

  // Whether the page is receiving live updates: a wall screen must not look current when it is not.
  function showConnection(state) {
    document.querySelectorAll("[data-connection]").forEach(function (badge) {
      badge.dataset.connection = state;
      badge.textContent = badge.dataset[state];
    });
  }
  document.addEventListener("htmx:sseOpen", function () { showConnection("live"); });
  document.addEventListener("htmx:sseError", function () { showConnection("reconnecting"); });
  window.addEventListener("offline", function () { showConnection("reconnecting"); });

  // Drag and drop is a shortcut for the move menu on each card; the server decides either way, so a
  // drop on a column the rules refuse still goes to the server, which puts the card back and says why.
  function enableDragAndDrop(root) {
    if (!window.Sortable) return;
    root.querySelectorAll(".board.can-move .cards").forEach(function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: "board",
        sort: false,
        animation: 120,
        // On a phone a finger first scrolls; holding a card still picks it up.
        delay: 200,
        delayOnTouchOnly: true,
        filter: "select, button, input, label",
        preventOnFilter: false,
        onStart: function (event) { markDropTargets(event.item, true); },
        onEnd: function (event) {
          markDropTargets(event.item, false);
          var card = event.item;
          var target = event.to.dataset.status;
          if (!target || target === event.from.dataset.status) return;
          var form = card.querySelector("form.move");
          if (!form) return;
          // The card, not its form, sends the move: the form's own menu may still be unchosen.
          htmx.ajax("POST", form.getAttribute("hx-post"), {
            source: card,
            swap: "none",
            values: { status: target, version: card.dataset.version },
          });
        },
      });
    });
  }
  function markDropTargets(card, dragging) {
    var board = card.closest(".board");
    if (!board) return;
    var allowed = (card.dataset.allowed || "").split(" ");
    board.classList.toggle("dragging", dragging);
    board.querySelectorAll(".cards").forEach(function (list) {
      var column = list.closest(".column");
      if (!dragging) delete column.dataset.drop;
      else if (list.dataset.status !== card.dataset.status) {
        column.dataset.drop = allowed.indexOf(list.dataset.status) >= 0 ? "allowed" : "refused";
      }
    });
  }
  document.addEventListener("htmx:load", function () { enableDragAndDrop(document); });
  document.addEventListener("DOMContentLoaded", function () { enableDragAndDrop(document); });

  // The mover's own answer and the live update announce the same sentence: say it once.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "announcer" && target.textContent === event.detail.fragment.textContent) {
      event.detail.shouldSwap = false;
    }
  });

  // A live update replaces a card that may hold the keyboard focus (its own move, or someone else's):
  // the focus follows the card to its new place instead of falling back to the top of the page.
  var refocusCardId = null;
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var card = event.detail.target, focused = document.activeElement;
    if (card && card.classList.contains("card") && focused && card.contains(focused)) refocusCardId = card.id;
  });
  document.addEventListener("htmx:oobAfterSwap", function () {
    var card = refocusCardId && document.getElementById(refocusCardId);
    if (!card) return;
    refocusCardId = null;
    var menu = card.querySelector("select");
    if (menu) menu.focus();
  });

  // Across a workshop a card that just changed column is easy to miss: it glows for a moment.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var list = event.detail.target;
    // Live updates insert a card at the top of its column's list.
    var card = list && list.classList && list.classList.contains("cards") ? list.firstElementChild : null;
    if (!card) return;
    card.classList.add("arrived");
    setTimeout(function () { card.classList.remove("arrived"); }, 3000);
  });

  // Toasts fade out after a while; errors stay a little longer; a click dismisses one at once.
  document.addEventListener("htmx:oobAfterSwap", expireToasts);
  document.addEventListener("DOMContentLoaded", expireToasts);
  function expireToasts() {
    document.querySelectorAll("#toasts .toast:not([data-expiring])").forEach(function (toast) {
      toast.dataset.expiring = "1";
      var delay = toast.classList.contains("toast-error") ? 9000 : 5000;
      setTimeout(function () { toast.remove(); }, delay);
    });
  }
  document.addEventListener("click", function (event) {
    var toast = event.target.closest && event.target.closest("#toasts .toast");
    if (toast) toast.remove();
  });

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

  // Invoice: the Print button (no inline handlers under the CSP).
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });

  // KPI panel: a live re-read replaces the panel; a "how it is computed" section someone opened
  // stays open instead of snapping shut under their eyes.
  var openDetails = [];
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "kpi-panel") return;
    openDetails = Array.prototype.map.call(target.querySelectorAll("details[open][id]"), function (d) { return d.id; });
  });
  document.addEventListener("htmx:afterSettle", function () {
    openDetails.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
    openDetails = [];
  });
})();

// Job board filter: a filtered board gets the same live updates as everyone, so a card that does not
// match the filter (data-filter-* on the board, the card's own data-*) is not inserted, and each
// column's count is the number of cards it shows. The server applies the same rule on page load
// (ops/workshop/queries.py BoardFilter).
(function () {
  "use strict";

  function matches(board, card) {
    var wanted = board.dataset;
    if (wanted.filterBay && card.dataset.bay !== wanted.filterBay) return false;
    if (wanted.filterTechnician && card.dataset.technician !== wanted.filterTechnician) return false;
    if (wanted.filterPriority && card.dataset.priority !== wanted.filterPriority) return false;
    if (wanted.filterOverdue) {
      var promised = Date.parse(card.dataset.promised || "");
      if (!(promised < Date.now())) return false;
    }
    return true;
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target, fragment = event.detail.fragment;
    var board = target && target.closest && target.closest("#board[data-filtered]");
    if (!board || !target.classList.contains("cards") || !fragment) return;
    var card = fragment.querySelector(".card");
    if (card && !matches(board, card)) event.detail.shouldSwap = false;
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    // The swap replaced the count element: look up the new one by the old one's id.
    var swapped = event.detail.target;
    if (!swapped || !/^count-/.test(swapped.id || "") || !document.querySelector("#board[data-filtered]")) return;
    var count = document.getElementById(swapped.id);
    var list = document.getElementById(swapped.id.replace(/^count-/, "cards-"));
    if (count && list) count.textContent = String(list.children.length);
  });
})();
