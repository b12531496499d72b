// Comparison: the left and right arrows choose a side, T a tie where the pool allows one.
(window.fairlabelTypes = window.fairlabelTypes || {}).pairwise = {
  keydown(event, form, { typing }) {
    if (typing) return false;
    const selector = { ArrowLeft: '[data-side="left"]', ArrowRight: '[data-side="right"]', t: ".tie-btn", T: ".tie-btn" }[event.key];
    const button = selector && form.querySelector(selector);
    if (!button) return false;
    button.click();
    return true;
  },
};
