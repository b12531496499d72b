// Several labels: keys 1-9 tick or untick a label, Enter submits the ticked ones.
(window.fairlabelTypes = window.fairlabelTypes || {}).multi_choice = {
  keydown(event, form) {
    if (/^[1-9]$/.test(event.key)) {
      const box = form.querySelector(`.choice[data-key="${event.key}"] input`);
      if (!box) return false;
      box.checked = !box.checked;
      return true;
    }
    // Enter on a focused button (Skip) is that button's, not a submit of the ticked labels.
    if (event.key === "Enter" && !(event.target instanceof HTMLButtonElement)) {
      form.requestSubmit(form.querySelector(".submit-btn"));
      return true;
    }
    return false;
  },
};
