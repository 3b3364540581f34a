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
  // When the stream last brought an update (see "live section" below).
  var lastUpdateAt = 0;
  // The page's live streams, to tell whether one is still up when the network comes back.
  var sources = [];
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
      var source = new EventSource(url, { withCredentials: true });
      source.addEventListener("update", function () {
        lastUpdateAt = performance.now();
        // An update proves the stream is up, whatever an "offline" event said before it.
        showConnection("live");
      });
      sources = sources.filter(function (open) { return open.readyState !== EventSource.CLOSED; });
      sources.push(source);
      return source;
    };
  }

  // An update takes a card away by id before it puts the card where it now is. A page that does not
  // show that card (another rep's lead, one past a column's limit, a filtered-out or brand-new job)
  // has nothing to take away: drop those parts, which htmx would otherwise log as errors each time.
  // Active on every page through <body hx-ext>, for live updates and answers alike.
  if (window.htmx) {
    htmx.defineExtension("skip-absent-deletes", {
      transformResponse: function (text) {
        if (text.indexOf('hx-swap-oob="delete"') < 0) return text;
        var answer = document.createElement("template");
        answer.innerHTML = text;
        answer.content.querySelectorAll('[hx-swap-oob="delete"][id]').forEach(function (part) {
          if (!document.getElementById(part.id)) part.remove();
        });
        return answer.innerHTML;
      }
    });
  }

  // A live section re-fetches itself a moment after each update (hx-trigger "sse:update delay:..").
  // When the section is replaced before that re-fetch runs (by the answer of its previous re-fetch,
  // still on its way when the update came, or by an out-of-band swap), htmx drops the pending
  // re-fetch with the old element, and an update that comes while the old one is gone and the new
  // one is not yet listening reaches neither: the change would stay off screen. So note when the
  // stream last brought an update and when each section last asked for itself, and have a
  // replacement that has not seen the latest update fetch itself again.
  var fetchedAt = {};
  function refetchesOnUpdate(elt) {
    return elt.id && elt.hasAttribute("hx-get") && /\bsse:update\b/.test(elt.getAttribute("hx-trigger") || "");
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt.id) fetchedAt[event.detail.elt.id] = performance.now();
  });
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (refetchesOnUpdate(elt) && lastUpdateAt > (fetchedAt[elt.id] || 0)) htmx.trigger(elt, "sse:update");
  });

  // Whether the page is receiving live updates: a wall screen must not look current when it is not.
  function showConnection(state) {
    document.querySelectorAll("[data-connection]").forEach(function (badge) {
      if (badge.dataset.connection === state) return;
      badge.dataset.connection = state;
      badge.textContent = badge.dataset[state];
    });
  }
  document.addEventListener("htmx:sseOpen", function () { showConnection("live"); });
  document.addEventListener("htmx:sseError", function () { showConnection("reconnecting"); });
  window.addEventListener("offline", function () { showConnection("reconnecting"); });
  // A short drop may not break the stream at all: then no error and no new "open" follows, and the
  // badge would say "Reconnecting" for as long as the page stays open.
  window.addEventListener("online", function () {
    if (sources.some(function (source) { return source.readyState === EventSource.OPEN; })) showConnection("live");
  });

  // Drag and drop is a shortcut for the move menu on each card; the server decides either way, so a
  // drop on a column the rules refuse still goes to the server, which puts the card back and says why.
  // Any board works the same (the job board, the pipeline): each column's list names its value in
  // data-status, and the card's move form sends it under the name of its menu (status, stage).
  // A column whose list names a dialog (data-move-dialog) asks for more first; see "move dialog".
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
          var putBack = function () {
            event.from.insertBefore(card, event.from.children[event.oldIndex] || null);
          };
          if (askBeforeMove(card, form, event.to, putBack)) return;
          // The card, not its form, sends the move: the form's own menu may still be unchosen.
          sendMove(card, form, target, {});
        },
      });
    });
  }
  // `source` is the element the answer's events go to: the card, or a move dialog's form (the card may
  // be replaced by the live update before the answer arrives, and its events would reach no one).
  function sendMove(card, form, target, extra, source) {
    var values = { version: card.dataset.version };
    values[form.querySelector("select").name] = target;
    Object.keys(extra).forEach(function (name) { values[name] = extra[name]; });
    htmx.ajax("POST", form.getAttribute("hx-post"), { source: source || card, swap: "none", values: values });
  }

  // Move dialog: a move into a column that needs more (a lost lead's reason) opens that column's
  // dialog instead of moving; its form's fields go with the move, and Cancel leaves the card where
  // it was. The same from the keyboard menu and from a drop. The dialog stays open until the server
  // answers: a refusal about one of its fields (the answer's toast names it in data-field) shows next
  // to that field with what was chosen kept; any other answer closes it and is shown as usual.
  function askBeforeMove(card, form, list, cancelled) {
    var dialog = list && list.dataset.moveDialog && document.getElementById(list.dataset.moveDialog);
    if (!dialog || typeof dialog.showModal !== "function") return false;
    var fields = dialog.querySelector("form");
    fields.reset();
    showFieldErrors(dialog, null, "");
    dialog.pendingMove = {
      card: card, form: form, target: list.dataset.status, cancelled: cancelled, fromKeyboard: holdsFocus(card),
    };
    dialog.showModal();
    return true;
  }
  function holdsFocus(card) {
    return card.contains(document.activeElement);
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches(".board form.move")) {
      var card = form.closest(".card"), menu = form.querySelector("select");
      var list = menu && document.getElementById("cards-" + menu.value);
      if (card && list && askBeforeMove(card, form, list, function () { menu.focus(); })) {
        event.preventDefault();
        event.stopPropagation();
      }
      return;
    }
    var dialog = form.closest("dialog");
    if (!dialog || !dialog.pendingMove) return;
    event.preventDefault();
    if (!form.reportValidity()) return;
    var move = dialog.pendingMove, extra = {};
    new FormData(form).forEach(function (value, name) { if (name !== "csrf_token") extra[name] = value; });
    showFieldErrors(dialog, null, "");
    sendMove(move.card, move.form, move.target, extra, form);
  }, true);
  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.detail.requestConfig.elt;
    var dialog = source && source.closest && source.closest("dialog.move-dialog");
    if (!dialog) return;
    var answer = document.createElement("template");
    answer.innerHTML = event.detail.serverResponse || "";
    var refusal = answer.content.querySelector(".toast[data-field]");
    var field = refusal && dialog.querySelector('[name="' + refusal.dataset.field + '"][aria-describedby]');
    if (event.detail.xhr.status === 422 && field && dialog.open && dialog.pendingMove) {
      // Nothing moved: the card stays where the dialog found it, and the answer is not swapped in.
      event.detail.shouldSwap = false;
      showFieldErrors(dialog, field, refusal.textContent);
      return;
    }
    // Decided either way: the answer puts the card where it is, so closing must not put it back.
    var move = dialog.pendingMove;
    dialog.pendingMove = null;
    dialog.close();
    // Closing puts the focus back where it was when the dialog opened: on the card, unless the live
    // update of this very move came first and replaced it, and then nowhere. The keyboard user goes
    // back to the card as it is now; the answer's own swap of it then keeps the focus on it.
    var menu = move && move.fromKeyboard && document.querySelector("#" + move.card.id + " form.move select");
    if (menu && document.activeElement !== menu) menu.focus();
  });
  // Shows `message` under `field` (its element named by aria-describedby); hides every other error.
  function showFieldErrors(dialog, field, message) {
    dialog.querySelectorAll("[aria-describedby]").forEach(function (input) {
      var error = document.getElementById(input.getAttribute("aria-describedby"));
      var refused = input === field;
      if (refused) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      if (!error) return;
      error.textContent = refused ? message : "";
      error.hidden = !refused;
    });
    if (field) field.focus();
  }
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("dialog [data-dialog-cancel]");
    if (cancel) cancel.closest("dialog").close();
  });
  // A button that asks before acting names its dialog (data-dialog-open); the dialog's form posts as
  // usual. A dialog the server sent back open (a refused answer, data-modal) is made modal again.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-dialog-open]");
    var dialog = opener && document.getElementById(opener.dataset.dialogOpen);
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) dialog.showModal();
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("dialog[open][data-modal]").forEach(function (dialog) {
      if (typeof dialog.showModal !== "function") return;
      dialog.close();
      dialog.showModal();
    });
  });
  // Escape and Cancel both close the dialog: the move is off and the card goes back.
  document.addEventListener("close", function (event) {
    var dialog = event.target, move = dialog.pendingMove;
    if (!move) return;
    dialog.pendingMove = null;
    move.cancelled();
  }, true);

  // Bay dialog (the job board): a move into work that the server refuses for want of a bay (the job
  // has none, or another job is in its bay) opens the bay dialog instead of the toast, with the free
  // bays fetched for that card. The bay chosen there goes with the same move, as a move dialog's
  // fields do, so the bay and the move are taken or refused together and the card moves once.
  // Whoever may not assign bays has no #bay-dialog on their board and gets the toast.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var dialog = document.getElementById("bay-dialog"), config = event.detail.requestConfig;
    var source = config.elt;
    var card = source && source.closest && !source.closest("dialog") && source.closest(".board .card");
    var form = card && card.querySelector("form.move");
    var status = config.formData && config.formData.get("status");
    if (!dialog || !form || !status || event.detail.xhr.status !== 422) return;
    var answer = document.createElement("template");
    answer.innerHTML = event.detail.serverResponse || "";
    var refusal = answer.content.querySelector('.toast[data-field="bay_id"]');
    if (!refusal) return;
    // The answer still puts the card back where it is; the dialog says why instead of the toast.
    refusal.parentElement.remove();
    event.detail.serverResponse = answer.innerHTML;
    var id = card.id;
    var url = form.getAttribute("hx-post").replace(/\/move$/, "/bay-choice?status=" + encodeURIComponent(status));
    htmx.ajax("GET", url, { target: dialog, swap: "innerHTML" }).then(function () {
      // The card as the answer left it, unless it has gone meanwhile.
      var current = document.getElementById(id), moveForm = current && current.querySelector("form.move");
      var fetched = dialog.querySelector('form.bay-choice[data-work-order="' + id.replace(/^wo-/, "") + '"]');
      if (!moveForm || !fetched || dialog.open) return;
      dialog.pendingMove = {
        card: current,
        form: moveForm,
        target: status,
        cancelled: function () {
          var menu = document.querySelector("#" + id + " form.move select");
          if (menu) menu.focus();
        },
        fromKeyboard: holdsFocus(current),
      };
      dialog.showModal();
    });
  });

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

  // Work-order page: a live update carries every section; one whose fingerprint (data-live-key)
  // the page already shows is left alone, so an unrelated change does not wipe a half-typed form.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target, fragment = event.detail.fragment;
    // An outerHTML swap hands over a document fragment holding the new section.
    var section = fragment && fragment.firstElementChild;
    if (!target || !section || !section.hasAttribute("data-live-update")) return;
    var key = section.getAttribute("data-live-key");
    if (key && target.getAttribute("data-live-key") === key) event.detail.shouldSwap = false;
  });

  // Work-order page actions and the top bar's area menus: one open at a time; Escape closes it and
  // returns to its button; a click elsewhere closes a menu.
  var POPUPS = ["details.action", ".nav-menu details"];
  function popupKind(element) {
    return POPUPS.find(function (selector) { return element.matches && element.matches(selector); });
  }
  document.addEventListener("toggle", function (event) {
    var opened = event.target;
    var kind = popupKind(opened);
    if (!kind || !opened.open) return;
    document.querySelectorAll(kind + "[open]").forEach(function (other) {
      if (other !== opened) other.open = false;
    });
  }, true);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var open = event.target.closest(POPUPS.map(function (selector) { return selector + "[open]"; }).join(", "));
    if (!open) return;
    open.open = false;
    open.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll(".nav-menu details[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  // A form that posts without htmx asks its hx-confirm question too (htmx asks only before its own
  // requests), so every destructive action confirms the same way.
  document.addEventListener("submit", function (event) {
    var form = event.target, question = form.getAttribute("hx-confirm");
    if (!question || form.hasAttribute("hx-post")) return;
    if (!window.confirm(question)) event.preventDefault();
  });

  // Invoice: the Print button (no inline handlers under the CSP).
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });

  // Settings > Users re-reads its list when another administrator changes a user. Replacing the list
  // under someone who is choosing a role, or has the keyboard focus on a row, would undo their choice
  // or throw their focus to the top of the page: the re-read waits until they are done (their own
  // save reloads the page anyway).
  var usersReadHeld = false;
  function editingUsers(list) {
    if (list.contains(document.activeElement)) return true;
    return Array.prototype.some.call(list.querySelectorAll("select"), function (menu) {
      var chosen = menu.options[menu.selectedIndex];
      return chosen && !chosen.defaultSelected;
    });
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var list = event.detail.elt;
    if (list.id !== "users-live" || !editingUsers(list)) return;
    event.preventDefault();
    usersReadHeld = true;
  });
  function readUsersWhenDone() {
    var list = document.getElementById("users-live");
    if (!usersReadHeld || !list) return;
    // After the focus has moved on: at "focusout" it has not arrived anywhere yet.
    setTimeout(function () {
      if (!usersReadHeld || editingUsers(list)) return;
      usersReadHeld = false;
      htmx.trigger(list, "sse:update");
    }, 0);
  }
  document.addEventListener("focusout", readUsersWhenDone);
  document.addEventListener("change", readUsersWhenDone);

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

// Technicians: running clocks tick, note forms clear after a saved note, a photo too large for the
// server is refused before it is uploaded, and the technician view reassigns by drag and drop.
(function () {
  "use strict";

  // The server renders each clock's elapsed seconds; the browser counts on from when it saw them, so
  // a phone whose own clock is wrong still shows the right time.
  var seenAt = new WeakMap();
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.elapsed[data-running]").forEach(function (clock) {
      if (!seenAt.has(clock)) seenAt.set(clock, now);
      var seconds = Number(clock.dataset.elapsed) + Math.floor((now - seenAt.get(clock)) / 1000);
      clock.textContent = Math.floor(seconds / 3600) + ":" + pad(Math.floor(seconds / 60) % 60) + ":" + pad(seconds % 60);
    });
  }
  setInterval(tick, 1000);

  // Fields and results that survive re-renders (hx-preserve: a technician's note, the work order's
  // part search) are cleared here, by id, once the server has taken the form (before the swap:
  // afterwards the form is no longer in the page).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = event.detail.requestConfig.elt, status = event.detail.xhr.status;
    if (status < 200 || status > 299 || !form.dataset || !form.dataset.clearOnSuccess) return;
    form.dataset.clearOnSuccess.split(" ").forEach(function (id) {
      var field = document.getElementById(id);
      if (!field) return;
      if ("value" in field) field.value = "";
      else field.replaceChildren();
    });
  });

  // "My jobs" re-reads itself on live updates, one re-read at a time. The first update asks for one
  // a moment later, so that the events of one change (a move and its clock) make one re-read; updates
  // that come while it waits or is on its way ask for at most one more after it, so the list ends as
  // it is now however many came. (A delay in hx-trigger put the re-read off for as long as updates
  // kept coming, and a request queued on the list was lost when the answer replaced it.)
  // The person's own action comes first: a re-read waits while an action is on its way (the action's
  // answer is the fresh list, followed by one re-read if updates came meanwhile), and a re-read under
  // way when an action starts is not shown: it would replace the form the action was sent from, or
  // put back a list older than the action's answer. (Aborting it instead made htmx log an error.)
  var REREAD_AFTER_MS = 300;
  var reread = { timer: null, running: false, again: false, actions: 0, actionsAtSend: 0 };
  function actionUnderWay(list) {
    return Boolean(list.querySelector("form.htmx-request"));
  }
  function askForReread() {
    var list = document.getElementById("my-jobs");
    if (!list) return;
    if (reread.running || actionUnderWay(list)) reread.again = true;
    else if (!reread.timer) reread.timer = setTimeout(rereadMyJobs, REREAD_AFTER_MS);
  }
  function rereadMyJobs() {
    reread.timer = null;
    var list = document.getElementById("my-jobs");
    if (!list) return;
    if (actionUnderWay(list)) {
      reread.again = true;
      return;
    }
    reread.running = true;
    reread.again = false;
    reread.actionsAtSend = reread.actions;
    htmx.ajax("GET", list.dataset.reread, { source: list, target: list, swap: "outerHTML" })
      .then(rereadDone, rereadDone);
  }
  function rereadDone() {
    reread.running = false;
    if (reread.again) {
      reread.again = false;
      askForReread();
    }
  }
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.target.id === "my-jobs-live") askForReread();
  });
  document.addEventListener("htmx:load", function (event) {
    // An action's answer replaced the list: the updates that came while it was on its way follow.
    if (event.detail.elt.id === "my-jobs" && !reread.running && reread.again) {
      reread.again = false;
      askForReread();
    }
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var list = document.getElementById("my-jobs"), source = event.detail.elt;
    if (list && source !== list && list.contains(source)) reread.actions += 1;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    // A re-read is sent from the list itself (which the action's answer may have replaced since).
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!source || source.id !== "my-jobs" || reread.actionsAtSend === reread.actions) return;
    // An action started while this re-read was on its way: its answer, and one more re-read if
    // updates came meanwhile, show the list as it is now.
    event.detail.shouldSwap = false;
    reread.again = true;
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var file = input.files && input.files[0];
    var tooLarge = file && file.size > Number(input.dataset.maxBytes);
    input.setCustomValidity(tooLarge ? input.dataset.tooLarge : "");
    if (tooLarge) input.reportValidity();
  });

  // Reassigning answers with the job board's update; this page keeps only the parts it has (the
  // toast, the announcer) and re-reads itself instead.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.detail.requestConfig.elt;
    if (!source || !source.closest || !source.closest(".technicians")) return;
    var answer = document.createElement("template");
    answer.innerHTML = event.detail.serverResponse;
    answer.content.querySelectorAll("[hx-swap-oob]").forEach(function (part) {
      var spec = part.getAttribute("hx-swap-oob");
      var target = spec.indexOf(":") >= 0 ? spec.slice(spec.indexOf(":") + 1) : "#" + part.id;
      if (!part.id && spec.indexOf(":") < 0) return;
      if (!document.querySelector(target)) part.remove();
    });
    event.detail.serverResponse = answer.innerHTML;
  });

  // Reassigning: dropping a job on another technician's queue sends the same form as its menu.
  function refreshTechnicians() {
    var view = document.getElementById("technicians");
    if (view) htmx.trigger(view, "refresh");
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.detail.requestConfig.elt;
    if (source.matches && source.matches("form.reassign")) setTimeout(refreshTechnicians, 0);
  });
  function enableReassignDrag(root) {
    if (!window.Sortable) return;
    root.querySelectorAll(".technicians.can-assign .queue").forEach(function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: { name: "technicians", put: list.dataset.technician !== "" },
        sort: false,
        animation: 120,
        delay: 200,
        delayOnTouchOnly: true,
        filter: "select, button, input, label, a",
        preventOnFilter: false,
        onEnd: function (event) {
          var job = event.item, technician = event.to.dataset.technician;
          if (!technician || event.to === event.from) return;
          var form = job.querySelector("form.reassign");
          if (!form) return;
          htmx.ajax("POST", form.getAttribute("hx-post"), {
            source: job,
            swap: "none",
            values: { technician_id: technician, bay_id: job.dataset.bay, version: job.dataset.version },
          }).then(refreshTechnicians, refreshTechnicians);
        },
      });
    });
  }
  document.addEventListener("htmx:load", function () { enableReassignDrag(document); });
  document.addEventListener("DOMContentLoaded", function () { enableReassignDrag(document); });
})();

// Board filter (the job board, the pipeline): a filtered board gets the same live updates as everyone,
// so a card that does not match the filter (data-filter-* on the board, the card's own data-*) is not
// inserted, and each column's count is the number of cards it shows. The server applies the same rule
// on page load (BoardFilter in ops/workshop/queries.py and ops/sales/leads/queries.py).
(function () {
  "use strict";

  // Each data-filter-<name> on the board must equal the card's data-<name> (the job board's bay,
  // technician, priority; the pipeline's owner, source); "overdue" compares the promised time.
  function matches(board, card) {
    var wanted = board.dataset;
    for (var key in wanted) {
      if (key.indexOf("filter") !== 0 || key === "filtered" || !wanted[key]) continue;
      var name = key.charAt(6).toLowerCase() + key.slice(7);
      if (name === "overdue") {
        var promised = Date.parse(card.dataset.promised || "");
        // A ready job is no longer late (ops/workshop/queries.py, is_late).
        if (!(promised < Date.now()) || card.dataset.status === "READY") return false;
      } else if (card.dataset[name] !== wanted[key]) {
        return false;
      }
    }
    return true;
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target, fragment = event.detail.fragment;
    var board = target && target.closest && target.closest(".board[data-filtered]");
    if (!board || !target.classList.contains("cards") || !fragment) return;
    var card = fragment.querySelector(".card");
    if (card && !matches(board, card)) event.detail.shouldSwap = false;
  });

  // A filtered board that re-reads its own counts (the pipeline: its columns are limited, so the cards
  // shown are not the count) keeps them until the re-read lands, instead of showing everyone's.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target && /^count-/.test(target.id || "") && document.querySelector(".board[data-own-counts]")) {
      event.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    // The swap replaced the count element: look up the new one by the old one's id.
    var swapped = event.detail.target;
    var board = document.querySelector(".board[data-filtered]");
    if (!swapped || !/^count-/.test(swapped.id || "") || !board || board.hasAttribute("data-own-counts")) return;
    var count = document.getElementById(swapped.id);
    var list = document.getElementById(swapped.id.replace(/^count-/, "cards-"));
    if (count && list) count.textContent = String(list.children.length);
  });

  // Configurator: a group's messages come with each live check (out of band, group-errors-<id>); its
  // red mark and its choices' aria-invalid follow them, so a group put right is no longer marked and
  // one still wrong stays marked.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var swapped = event.detail.target;
    if (!swapped || !/^group-errors-/.test(swapped.id || "")) return;
    // The swap replaced the element: look up the new one by the old one's id.
    var errors = document.getElementById(swapped.id), group = errors && errors.closest(".option-group");
    if (!group) return;
    var invalid = Boolean(errors.querySelector(".field-error"));
    group.classList.toggle("invalid", invalid);
    group.querySelectorAll("input").forEach(function (choice) {
      if (invalid) choice.setAttribute("aria-invalid", "true");
      else choice.removeAttribute("aria-invalid");
    });
  });

  // Terms form (quotes): after a refused Save its fields carry their errors. Each live check of the
  // figures names the fields still wrong (data-invalid) and those whose rules on the figures it could
  // not check (data-unchecked, while another field is unreadable); every other field's mark goes, so a
  // field put right is no longer marked, and the summary goes with the last one. An unchecked field
  // keeps its mark only if Save had checked it (the form's data-unchecked did not name it): then its
  // error is about the figures, and nothing says it is right yet. A check never adds a mark: while
  // typing the form guides, Save says what is wrong.
  document.addEventListener("htmx:afterSwap", function (event) {
    // The event comes from the new figures (swapped in whole).
    var preview = event.target, form = document.querySelector("form.quote-form");
    if (!form || preview.id !== "quote-preview" || !preview.hasAttribute("data-invalid")) return;
    var invalid = preview.dataset.invalid.split(" "), unchecked = preview.dataset.unchecked.split(" ");
    var uncheckedAtSave = (form.dataset.unchecked || "").split(" ");
    function putRight(name) {
      if (!name || invalid.indexOf(name) >= 0) return false;
      return unchecked.indexOf(name) < 0 || uncheckedAtSave.indexOf(name) >= 0;
    }
    form.querySelectorAll('[aria-invalid="true"]').forEach(function (input) {
      if (!putRight(input.name)) return;
      var error = document.getElementById(input.getAttribute("aria-describedby"));
      if (error) error.remove();
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    form.querySelectorAll("[data-error-for]").forEach(function (error) {
      if (putRight(error.dataset.errorFor)) error.remove();
    });
    var summary = document.getElementById("quote-form-errors");
    if (summary && !form.querySelector('[aria-invalid="true"], [data-error-for]')) summary.remove();
  });

  // Stock pages: a section that re-fetches itself on every stock change is swapped only when its
  // fingerprint (data-refetch-key) changed, so another unit's hold does not wipe a half-typed form.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var key = target && target.getAttribute && target.getAttribute("data-refetch-key");
    if (!key) return;
    var match = /data-refetch-key="([^"]*)"/.exec(event.detail.serverResponse || "");
    if (match && match[1] === key) event.detail.shouldSwap = false;
  });
})();
