// pytest-invokeai review: an "Accept" button on each case of the report that can be accepted, and
// "Accept all shown" for every such case the page shows now (after its filters). Accepting writes what
// `pytest-invokeai accept` writes; the case is marked at once with what happened.
(() => {
  const config = JSON.parse(document.getElementById("pytest-invokeai-review").textContent);
  const acceptable = new Set(config.acceptable);
  const accepted = new Set(config.accepted);
  const elements = new Map(); // test id -> the report's elements of that case
  for (const element of document.querySelectorAll("[data-test-id]")) {
    const id = element.getAttribute("data-test-id");
    if (!elements.has(id)) elements.set(id, []);
    elements.get(id).push(element);
  }

  const bar = document.createElement("div");
  bar.id = "review-bar";
  bar.style.cssText = "position:sticky;top:0;z-index:10;background:#1d3557;color:#fff;padding:6px 10px;display:flex;gap:12px;align-items:center";
  const all = document.createElement("button");
  all.type = "button";
  all.textContent = "Accept all shown";
  const status = document.createElement("span");
  status.id = "review-status";
  status.setAttribute("role", "status");
  bar.append("review: accepting writes the baseline from this run's images", all, status);
  document.body.prepend(bar);

  function mark(id, state, text) {
    for (const element of elements.get(id) || []) {
      element.setAttribute("data-review-state", state);
      const old = element.querySelector(":scope > .review-accept");
      if (old) old.remove();
      const note = element.querySelector(":scope > .review-note") || document.createElement("p");
      note.className = "review-note";
      note.textContent = text;
      note.style.cssText = "font-weight:bold;color:" + (state === "accepted" ? "#2a7d2a" : "#b00020");
      element.prepend(note);
    }
  }

  async function acceptCases(ids) {
    if (!ids.length) {
      status.textContent = "no case shown can be accepted";
      return;
    }
    status.textContent = "accepting " + ids.length + " case(s)...";
    try {
      const response = await fetch(config.api, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Review-Token": config.token },
        body: JSON.stringify({ test_ids: ids }),
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error || response.statusText);
      for (const [id, result] of Object.entries(answer.cases)) {
        if (result.state === "accepted") accepted.add(id);
        mark(id, result.state, result.text);
      }
      status.textContent = answer.summary;
    } catch (error) {
      status.textContent = "not accepted: " + error.message;
    }
  }

  for (const [id, list] of elements) {
    if (accepted.has(id)) {
      mark(id, "accepted", "accepted: the baseline is this run's");
      continue;
    }
    if (!acceptable.has(id)) continue;
    for (const element of list) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "review-accept";
      button.textContent = "Accept";
      button.title = "write " + id + "'s baseline from this run's images";
      button.addEventListener("click", () => acceptCases([id]));
      element.prepend(button);
    }
  }

  const shown = (element) => element.getClientRects().length > 0;
  all.addEventListener("click", () => {
    const ids = [...elements].filter(([id, list]) => acceptable.has(id) && !accepted.has(id) && list.some(shown));
    acceptCases(ids.map(([id]) => id));
  });
})();
