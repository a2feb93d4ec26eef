// The console's one script: keeps lists and an unfinished execution live through server-sent events.
// Every page works without it (progressive enhancement); it only saves reloading.

/** Replaces or adds the rows of executions that appear or change, as the server sends them. */
function liveList(table) {
  const body = table.tBodies[0];
  const note = document.querySelector("[data-live-status]");
  const say = (text) => {
    if (note) note.textContent = text;
  };
  const pageSize = Number(table.dataset.pageSize) || 50;
  const source = new EventSource(table.dataset.feed);
  let added = 0;
  source.addEventListener("open", () => say("Live: new runs and status changes appear here."));
  source.addEventListener("error", () => say("Live updates paused; reconnecting…"));
  source.addEventListener("execution", (event) => {
    const change = JSON.parse(event.data);
    const template = document.createElement("template");
    template.innerHTML = change.html.trim();
    const row = template.content.firstElementChild;
    const existing = body.querySelector(`tr[data-id="${CSS.escape(change.id)}"]`);
    if (existing) {
      if (change.matches) existing.replaceWith(row);
      else existing.remove();
      return;
    }
    if (!change.matches) return;
    // In its place, newest first; one older than the whole of a full page belongs to a later page.
    const later = [...body.querySelectorAll("tr[data-order]")].find((r) => r.dataset.order < change.order);
    if (later) later.before(row);
    else if (body.querySelectorAll("tr[data-order]").length < pageSize) body.append(row);
    else return;
    body.querySelector("tr.empty")?.remove();
    added++;
    say(`${added} run${added === 1 ? "" : "s"} added since the page loaded.`);
    while (body.querySelectorAll("tr[data-order]").length > pageSize) body.deleteRow(-1);
  });
}

/** Reloads an unfinished execution's details on each change, keeping open inputs and outputs open. */
function liveExecution(initial) {
  let current = initial;
  let busy = false;
  let again = false;
  const source = new EventSource(current.dataset.feed);
  const refresh = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const open = [...current.querySelectorAll("details[open]")].map(detailsKey);
      const response = await fetch(location.href, { headers: { accept: "text/html" } });
      const fresh = new DOMParser()
        .parseFromString(await response.text(), "text/html")
        .querySelector("#execution");
      if (!fresh) return;
      for (const details of fresh.querySelectorAll("details")) {
        if (open.includes(detailsKey(details))) details.open = true;
      }
      current.replaceWith(fresh);
      current = fresh;
      if (!fresh.dataset.feed) source.close();
    } finally {
      busy = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  };
  source.addEventListener("execution", () => void refresh());
}

function detailsKey(details) {
  const row = details.closest("tr");
  return `${row ? row.dataset.node : ""}/${details.querySelector("summary")?.textContent ?? ""}`;
}

if ("EventSource" in window) {
  const table = document.querySelector("table[data-feed]");
  if (table) liveList(table);
  const execution = document.querySelector("#execution[data-feed]");
  if (execution) liveExecution(execution);
}
