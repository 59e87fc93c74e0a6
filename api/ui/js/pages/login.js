// Sign in and register: one form, two modes.

import { post, describe } from '../api.js';
import { h, mount, field, setFieldError } from '../dom.js';
import { title } from '../ui.js';

export function render(main, ctx, mode) {
  const register = mode === 'register';
  title(register ? 'Create account' : 'Sign in');
  const next = ctx.url.searchParams.get('next');
  const safeNext = next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
  const email = field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'email', required: true, autofocus: true });
  const name = register ? field({ label: 'Display name (optional)', name: 'displayName', autocomplete: 'nickname', maxlength: 100 }) : null;
  const password = field({
    label: 'Password', name: 'password', type: 'password', required: true, minlength: register ? 8 : null, maxlength: 256,
    autocomplete: register ? 'new-password' : 'current-password',
    hint: register ? 'At least 8 characters.' : null,
  });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide', text: register ? 'Create account' : 'Sign in' });
  const form = h('form', { class: 'stack', novalidate: true },
    email.wrap, name && name.wrap, password.wrap, formError, submit);
  const fields = { email, password, displayName: name };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.hidden = true;
    for (const f of Object.values(fields)) if (f) setFieldError(f, '');
    const body = { email: email.input.value.trim(), password: password.input.value };
    if (!body.email) {
      setFieldError(email, 'Enter your email address.');
      email.input.focus();
      return;
    }
    if (register && body.password.length < 8) {
      setFieldError(password, 'Use at least 8 characters.');
      password.input.focus();
      return;
    }
    if (register && name.input.value.trim()) body.displayName = name.input.value.trim();
    submit.disabled = true;
    try {
      const data = await post(register ? '/api/auth/register' : '/api/auth/login', body, { quiet401: true });
      ctx.setUser(data.user);
      ctx.navigate(safeNext, { replace: true });
    } catch (e) {
      submit.disabled = false;
      const target = e.field && fields[e.field];
      if (target) {
        setFieldError(target, e.message);
        target.input.focus();
      } else {
        formError.textContent = e.code === 'invalid_credentials' ? 'Wrong email or password.'
          : e.code === 'email_taken' ? 'An account with this email already exists. Sign in instead?' : describe(e);
        formError.hidden = false;
        if (e.code === 'email_taken') setFieldError(email, 'Already registered.');
      }
    }
  });

  const other = register
    ? h('p', {}, 'Already have an account? ', h('a', { href: `/login${next ? `?next=${encodeURIComponent(next)}` : ''}`, text: 'Sign in' }))
    : h('p', {}, 'New here? ', h('a', { href: `/register${next ? `?next=${encodeURIComponent(next)}` : ''}`, text: 'Create an account' }));
  mount(main, h('section', { class: 'page auth-page' },
    h('div', { class: 'card' },
      h('h1', { text: register ? 'Create your account' : 'Sign in to WebEDT' }),
      h('p', { class: 'muted', text: 'Run AI coding sessions that keep streaming across reloads and restarts.' }),
      form, other)));
  email.input.focus();
}
