// The workspace's one script. A page waiting on a match run or an enrichment (`data-pending`)
// re-reads itself in the background and reloads once it no longer waits. The live simulation
// page follows the simulation over its WebSocket (the session cookie authenticates it), shows
// progress and each answer as it arrives, and reloads into the results when the run ends.
// Answers are inserted as text, never as HTML.
(function () {
  "use strict";
  if (document.querySelector("main[data-pending]")) {
    var timer = setInterval(function () {
      fetch(location.href, { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (html.indexOf("data-pending") < 0) { clearInterval(timer); location.reload(); }
        })
        .catch(function () { /* keep waiting: the next tick tries again */ });
    }, 2000);
  }
  var live = document.getElementById("live");
  if (!live) { return; }
  var id = live.getAttribute("data-simulation");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var state = document.getElementById("live-state");
  var answers = document.getElementById("answers");
  var finished = false;

  var badge = document.querySelector("[data-status]");

  function status(name) {
    badge.textContent = name;
    badge.className = "status status-" + name;
    badge.setAttribute("data-status", name);
  }

  function progress(done, failed, total) {
    bar.max = Math.max(total, 1);
    bar.value = done + failed;
    bar.textContent = (done + failed) + " of " + total;
    text.textContent = done + " answered, " + failed + " failed, of " + total;
  }

  function answer(a) {
    var item = document.createElement("li");
    var who = document.createElement("strong");
    who.textContent = a.persona_name + " (" + a.segment + "), " + a.step + ": ";
    item.appendChild(who);
    item.appendChild(document.createTextNode(a.answer));
    answers.appendChild(item);
  }

  function done() {
    finished = true;
    state.textContent = "Finished: loading the results…";
    location.reload();
  }

  function connect(attempt) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/simulations/" + id);
    socket.onopen = function () { state.textContent = "Live: answers appear as personas give them."; };
    socket.onmessage = function (message) {
      var event = JSON.parse(message.data);
      if (event.type === "state") {
        var p = event.simulation.progress;
        progress(p.done, p.failed, p.total);
        status(event.simulation.status);
        if (/^(completed|failed|cancelled)$/.test(event.simulation.status)) { done(); }
      } else if (event.type === "simulation.progress") {
        status("running");
        progress(event.data.done, event.data.failed, event.data.total);
        (event.data.answers || []).forEach(answer);
      } else if (/^simulation\.(completed|failed|cancelled)$/.test(event.type)) {
        done();
      }
    };
    socket.onclose = function () {
      if (finished) { return; }
      state.textContent = "Connection lost; reconnecting…";
      setTimeout(function () { connect(attempt + 1); }, Math.min(1000 * (attempt + 1), 5000));
    };
  }
  connect(0);
}());
