// A call page's early join (src/early_media.rs): takes the page's seat before the app is
// there. It opens the signaling socket as the app would, sends `join` once it is open and
// keeps every message the server sends, in order, until the app's session takes the
// socket over. It is given its values as one JSON object, `c` (`socket_script` builds it):
//   c.room       the call link's room;
//   c.name       who joins at once, or null: wait for the join card's Join now;
//   c.path       the signaling path with the early socket's query;
//   c.seats      where a tab keeps its seats' tokens (sessionStorage), but for the name;
//   c.leave      the `leave` message, as JSON text;
//   c.waitMs     how long the seat waits for the app before it is given back;
//   c.socketKey  the property of window where the socket and what it kept are left;
//   c.hydrated   the attribute of <html> that says the app is there (it joins then);
//   c.form, c.sentEarly  the join card's form, and the mark of Join now pressed early.
// Comment lines and indentation are dropped when it is built into the page.
(function (c) {
  var e;
  function join(n) {
    if (e || !window.WebSocket || document.documentElement.hasAttribute(c.hydrated)) return;
    // A seat this tab held before (a reload) is the app's to ask back.
    try { if (sessionStorage.getItem(c.seats + n)) return; } catch (x) {}
    var w = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host
      + c.path + '&room=' + encodeURIComponent(c.room));
    e = { socket: w, queue: [], name: n, room: c.room };
    window[c.socketKey] = e;
    w.onopen = function () { w.send(JSON.stringify({ type: 'join', room: c.room, name: n })); };
    w.onmessage = function (m) { e.queue.push(m.data); };
    setTimeout(away, c.waitMs);
  }
  // The app never came (or the page goes): the seat is given back.
  function away() {
    if (!e || window[c.socketKey] !== e) return;
    delete window[c.socketKey];
    try { if (e.socket.readyState === 1) e.socket.send(c.leave); e.socket.close(); } catch (x) {}
  }
  addEventListener('pagehide', away);
  if (c.name !== null) {
    join(c.name);
  } else {
    // Join now pressed before the app: the name typed on the card, trimmed as the server
    // trims it (one with U+FEFF, which JavaScript trims and the server refuses, is left
    // to the app).
    document.addEventListener('submit', function (v) {
      var f = v.target;
      if (f.id !== c.form || !f.hasAttribute(c.sentEarly)) return;
      var n = f.elements.namedItem('name');
      n = n && n.value;
      if (n && n.indexOf('\ufeff') < 0 && (n = n.trim())) join(n);
    });
  }
})
