// Behaviour shared by every page. Loaded as a file: the Content-Security-Policy allows no inline script.

// A form with data-confirm asks before it is sent (closing a pool, deleting an account).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (message && !window.confirm(message)) event.preventDefault();
});
