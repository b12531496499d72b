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

  const keepInstructions = () => {
    document.querySelectorAll("#task details.instructions").forEach((details) => {
      store(instructionsKey(details.dataset.pool), details.open ? "open" : "closed");
    });
  };

  const restoreInstructions = () => {
    document.querySelectorAll("#task details.instructions").forEach((details) => {
      details.open = stored(instructionsKey(details.dataset.pool)) === "open";
    });
  };

  const taskReady = (moveFocus) => {
    const task = document.getElementById("task");
    if (!task) return;
    const notice = document.getElementById("notice");
    const announce = document.getElementById("announce");
    if (announce && notice) announce.textContent = notice.textContent.trim();
    if (moveFocus) {
      // A type whose answer is typed (text) marks its field autofocus: focus goes there, not to the heading.
      const first = task.querySelector("[autofocus]") || document.getElementById("task-heading");
      if (first) first.focus();
    }
  };

  document.addEventListener("DOMContentLoaded", () => {
    showShortcutSetting();
    restoreInstructions();
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

  // Each task's form is sent once: a key pressed while its submit is in flight, or while the next task is
  // still settling, must never send the old form a second time (outside htmx the server could only answer
  // "already submitted"). A new task's form arrives unsent; one whose answer was refused is marked unsent again.
  const sent = (form) => form.dataset.sent === "1";
  document.addEventListener(
    "submit",
    (event) => {
      const task = document.getElementById("task");
      const form = event.target;
      if (!task || !(form instanceof HTMLFormElement) || !task.contains(form)) return;
      if (sent(form)) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      // A task swapped in a moment ago is not processed by htmx until it settles: a key pressed before then
      // would post the form natively. Process it now and press the same button again, through htmx.
      if (window.htmx && !form.dataset.processed) {
        event.preventDefault();
        event.stopImmediatePropagation();
        form.dataset.processed = "1";
        window.htmx.process(task);
        // After this event's dispatch: a form refuses to be submitted again from inside its own submit event.
        const submitter = event.submitter;
        window.setTimeout(() => (submitter ? submitter.click() : form.requestSubmit()), 0);
        return;
      }
      form.dataset.sent = "1";
    },
    true,
  );

  // Shortcuts act only when focus is on the page itself or in the task area (never from the menu, a link or a
  // field), and not at all when the worker turned them off. S skips; the task type's own script
  // (quality/types/<type>/static) handles its keys and says whether it did.
  document.addEventListener("keydown", (event) => {
    if (!shortcutsOn() || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const task = document.getElementById("task");
    if (!task || task.getAttribute("aria-busy") === "true") return;
    const form = task.querySelector("form.answer-form");
    if (!form || sent(form)) return;
    const target = event.target;
    const onPage = target === document.body || target === document.documentElement;
    const inTask = target instanceof Element && task.contains(target) && !target.closest("a, select, [contenteditable], summary");
    if (!onPage && !inTask) return;
    const typing = target instanceof Element && target.closest("input:not([type=checkbox]):not([type=hidden]), textarea");
    const handler = (window.fairlabelTypes || {})[form.dataset.taskType];
    if (handler && handler.keydown(event, form, { typing: Boolean(typing) })) {
      event.preventDefault();
      return;
    }
    if (!typing && (event.key === "s" || event.key === "S")) {
      const skip = task.querySelector(".skip-btn");
      if (skip) {
        event.preventDefault();
        skip.click();
      }
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
    // Still on the page: the answer was not taken (an error status swaps nothing), so it may be sent again.
    if (task && document.body.contains(task)) {
      setBusy(task, false);
      task.querySelectorAll("form.answer-form").forEach((form) => delete form.dataset.sent);
    }
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

  // `toggle` is dispatched later than the click that opened the details: a submit right after it must not
  // swap the task out before the state is kept.
  document.addEventListener("htmx:beforeSwap", keepInstructions);
  // Restored in the same task as the swap, before anything is painted: the new task never shows them closed
  // for a moment (waiting for the settle left a window in which they were).
  // (The event may fire on the replaced element, so it is not filtered by target; restoring is idempotent.)
  document.addEventListener("htmx:afterSwap", restoreInstructions);

  // Focus moves in the same task as the swap, not at the settle 20 ms later: a worker who starts typing the
  // moment the next task shows would otherwise lose the first keys to the page.
  let taskBeforeSwap = null;
  document.addEventListener("htmx:beforeSwap", () => {
    taskBeforeSwap = document.getElementById("task");
  });
  document.addEventListener("htmx:afterSwap", () => {
    const task = document.getElementById("task");
    if (task && task !== taskBeforeSwap) taskReady(true);
    taskBeforeSwap = null;
  });
})();
