// Keyboard shortcuts for the annotator: 1-9 pick a label, S skips. Ignored while typing in a field.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
  const task = document.getElementById("task");
  if (!task || task.classList.contains("htmx-request")) return;
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
