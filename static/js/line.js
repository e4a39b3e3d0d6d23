// Kring private line (issue 14): a conversation of two, with the circle chat's
// delivery (static/js/conversation.js: live messages, an outbox kept in localStorage,
// retries with the same client_id, so nothing is lost and nothing is doubled). The
// page works without this file (plain form posts). Message text is only ever inserted
// as text nodes; no innerHTML is given user text.
(function () {
  "use strict";
  const root = document.getElementById("line");
  if (!root || typeof io === "undefined" || !window.KringConversation) return;

  const lineId = Number(root.dataset.lineId);
  window.KringConversation(root, {
    storeKey: "kring-line-outbox-" + lineId,
    ids: { circle_id: Number(root.dataset.circleId), line_id: lineId },
    events: { join: "line:join", send: "line:send", read: "line:read", message: "line:message", latest: "line:latest" },
    accepts: (m) => m.line_id === lineId,
    refused: ["invalid", "not_found", "forbidden", "bad_request", "unknown_event", "closed"],
    followAlways: true,
  });
})();
