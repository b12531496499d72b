// The annotator: keyboard shortcuts, a working state while an answer is sent, errors that say the answer was
// not saved, focus on the new task after each answer, and Instructions that stay as the worker left them.
(() => {
  const SHORTCUTS_KEY = "fairlabel.shortcuts";
  const instructionsKey = (pool) => `fairlabel.instructions.${pool}`;

  const stored = (key) => {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null; // storage refused (private mode): settings last for this page only
    }
  };
  const store = (key, value) => {
    try {
      window.localStorage.setItem(key, value);
    } catch {
      /* as above */
    }
  };

  const shortcutsOn = () => stored(SHORTCUTS_KEY) !== "off";
  const showShortcutSetting = () => {
    document.body.classList.toggle("shortcuts-off", !shortcutsOn());
    const toggle = document.getElementById("shortcuts-toggle");
    if (toggle) toggle.checked = shortcutsOn();
  };

  const restoreInstructions = () => {
    document.querySelectorAll("#task details.instructions").forEach((details) => {
      details.open = stored(instructionsKey(details.dataset.pool)) === "open";
    });
  };

  const taskReady = (moveFocus) => {
    restoreInstructions();
    const task = document.getElementById("task");
    if (!task) return;
    const notice = document.getElementById("notice");
    const announce = document.getElementById("announce");
    if (announce && notice) announce.textContent = notice.textContent.trim();
    if (moveFocus) {
      const heading = document.getElementById("task-heading");
      if (heading) heading.focus();
    }
  };

  document.addEventListener("DOMContentLoaded", () => {
    showShortcutSetting();
    taskReady(false);
  });

  document.addEventListener("change", (event) => {
    if (event.target.id === "shortcuts-toggle") {
      store(SHORTCUTS_KEY, event.target.checked ? "on" : "off");
      showShortcutSetting();
    }
  });

  // `toggle` does not bubble: listen in the capture phase for every details element, old and new.
  document.addEventListener(
    "toggle",
    (event) => {
      const details = event.target;
      if (details instanceof HTMLDetailsElement && details.classList.contains("instructions")) {
        store(instructionsKey(details.dataset.pool), details.open ? "open" : "closed");
      }
    },
    true,
  );

  // Shortcuts act only when focus is on the page itself or in the task area (never from the menu, a link or a
  // field), and not at all when the worker turned them off.
  document.addEventListener("keydown", (event) => {
    if (!shortcutsOn() || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const task = document.getElementById("task");
    if (!task || task.getAttribute("aria-busy") === "true") return;
    const target = event.target;
    const onPage = target === document.body || target === document.documentElement;
    const inTask = target instanceof Element && task.contains(target) && !target.closest("a, input, textarea, select, [contenteditable], summary");
    if (!onPage && !inTask) return;
    let button = null;
    if (/^[1-9]$/.test(event.key)) {
      button = task.querySelector(`.label-btn[data-key="${event.key}"]`);
    } else if (event.key === "s" || event.key === "S") {
      button = task.querySelector(".skip-btn");
    }
    if (button) {
      event.preventDefault();
      button.click();
    }
  });

  const inTask = (event) => {
    const task = document.getElementById("task");
    return task && event.target instanceof Element && task.contains(event.target) ? task : null;
  };
  const setBusy = (task, busy) => {
    task.setAttribute("aria-busy", busy ? "true" : "false");
    task.querySelectorAll("form.labels button").forEach((button) => {
      button.disabled = busy;
    });
  };
  const showError = (task, message) => {
    const notice = task.querySelector("#notice");
    if (notice) {
      notice.textContent = message;
      notice.classList.add("task-error");
    }
    const announce = document.getElementById("announce");
    if (announce) announce.textContent = message;
  };

  // After htmx has read the form (so the pressed button's label is sent), before the request leaves.
  document.addEventListener("htmx:beforeSend", (event) => {
    const task = inTask(event);
    if (!task) return;
    const notice = task.querySelector("#notice");
    if (notice && notice.classList.contains("task-error")) {
      notice.textContent = "";
      notice.classList.remove("task-error");
    }
    setBusy(task, true);
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const task = inTask(event);
    if (task && document.body.contains(task)) setBusy(task, false);
  });
  // htmx swaps nothing for an error status, so the answer stays on screen to try again; never a server's
  // error page inside the task area.
  document.addEventListener("htmx:responseError", (event) => {
    const task = inTask(event);
    if (!task) return;
    const status = event.detail.xhr.status;
    const hint = status === 403 ? "Reload the page, then try again." : "Try again.";
    showError(task, `Not saved: the server could not take this answer (error ${status}). ${hint}`);
  });
  const offline = (event) => {
    const task = inTask(event);
    if (task) showError(task, "Not saved: the connection failed. Check your network and try again.");
  };
  document.addEventListener("htmx:sendError", offline);
  document.addEventListener("htmx:timeout", offline);

  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "task") taskReady(true);
  });
})();
