// One label: keys 1-9 press the label's button (which submits the form).
(window.fairlabelTypes = window.fairlabelTypes || {}).single_choice = {
  keydown(event, form) {
    if (!/^[1-9]$/.test(event.key)) return false;
    const button = form.querySelector(`.label-btn[data-key="${event.key}"]`);
    if (!button) return false;
    button.click();
    return true;
  },
};
