'use strict';
// The login form trades the token for an HttpOnly session cookie; the page then loads as usual.
document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.getElementById('login-error');
  error.textContent = '';
  const token = document.getElementById('token').value;
  try {
    const res = await fetch('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
    if (res.status === 204) return void window.location.reload();
    error.textContent = res.status === 401 ? 'That token is not the console token.' : `The console answered ${res.status}.`;
  } catch {
    error.textContent = 'The console did not answer.';
  }
});
