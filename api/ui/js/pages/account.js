// Account: profile, password change, connections to git hosts, signed-in devices (revoke), sign out.

import { api, post, del, describe } from '../api.js';
import { h, mount, field, setFieldError } from '../dom.js';
import { title, toast } from '../ui.js';
import { dateTime, relativeTime, userAgent } from '../format.js';
import { connectionsCard } from '../components/connections.js';

export function render(main, ctx) {
  title('Account');
  const user = ctx.user;

  // Password ---------------------------------------------------------------------------------
  const current = field({ label: 'Current password', name: 'currentPassword', type: 'password', autocomplete: 'current-password', required: true });
  const fresh = field({ label: 'New password', name: 'newPassword', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256, hint: 'At least 8 characters. Your other devices will be signed out.' });
  const confirm = field({ label: 'Repeat new password', name: 'confirm', type: 'password', autocomplete: 'new-password', required: true });
  const pwStatus = h('p', { class: 'form-status', role: 'status' });
  const pwButton = h('button', { type: 'submit', class: 'primary', text: 'Change password' });
  const pwForm = h('form', { class: 'stack', novalidate: true }, current.wrap, fresh.wrap, confirm.wrap, pwButton, pwStatus);
  pwForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const f of [current, fresh, confirm]) setFieldError(f, '');
    pwStatus.textContent = '';
    if (fresh.input.value.length < 8) {
      setFieldError(fresh, 'Use at least 8 characters.');
      fresh.input.focus();
      return;
    }
    if (fresh.input.value !== confirm.input.value) {
      setFieldError(confirm, 'The two new passwords differ.');
      confirm.input.focus();
      return;
    }
    pwButton.disabled = true;
    try {
      await post('/api/auth/password', { currentPassword: current.input.value, newPassword: fresh.input.value });
      pwForm.reset();
      pwStatus.textContent = 'Password changed. Your other devices were signed out.';
      loadDevices();
    } catch (e) {
      const target = { currentPassword: current, newPassword: fresh }[e.field]
        || (e.code === 'invalid_credentials' ? current : null);
      if (target) {
        setFieldError(target, e.code === 'invalid_credentials' ? 'This is not your current password.' : e.message);
        target.input.focus();
      } else pwStatus.textContent = describe(e);
    } finally {
      pwButton.disabled = false;
    }
  });

  // Devices ----------------------------------------------------------------------------------
  const devices = h('ul', { class: 'device-list', 'aria-label': 'Signed-in devices' });
  const devicesStatus = h('p', { class: 'muted', role: 'status', text: 'Loading…' });
  async function loadDevices() {
    try {
      const data = await api('/api/auth/sessions');
      const list = (data && data.sessions) || [];
      devicesStatus.textContent = list.length ? '' : 'No active sessions.';
      mount(devices, list.map((s) => h('li', { class: 'device' },
        h('div', { class: 'device-info' },
          h('strong', { text: userAgent(s.userAgent) }),
          s.current ? h('span', { class: 'badge badge-current', text: 'this device' }) : null,
          h('span', { class: 'muted' },
            `Signed in ${dateTime(s.createdAt)} · last active `,
            h('time', { datetime: s.lastSeenAt, title: dateTime(s.lastSeenAt), text: relativeTime(s.lastSeenAt) }))),
        h('button', {
          type: 'button', class: s.current ? 'button-quiet' : 'danger-quiet',
          text: s.current ? 'Sign out' : 'Revoke',
          'aria-label': s.current ? 'Sign out of this device' : `Revoke the session of ${userAgent(s.userAgent)} from ${dateTime(s.createdAt)}`,
          onClick: () => revoke(s),
        }))));
    } catch (e) {
      devicesStatus.textContent = `Could not load your sessions: ${describe(e)}`;
    }
  }
  async function revoke(s) {
    try {
      await del(`/api/auth/sessions/${encodeURIComponent(s.id)}`);
      if (s.current) {
        ctx.setUser(null);
        ctx.navigate('/login', { replace: true });
        return;
      }
      toast('Session revoked.');
      loadDevices();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }
  async function signOut() {
    try {
      await post('/api/auth/logout');
    } catch (e) {
      if (e.status !== 401) {
        toast(describe(e), 'error');
        return;
      }
    }
    ctx.setUser(null);
    ctx.navigate('/login', { replace: true });
  }

  mount(main, h('section', { class: 'page narrow account-page' },
    h('h1', { text: 'Account' }),
    h('section', { class: 'card', 'aria-labelledby': 'profile-h' },
      h('h2', { id: 'profile-h', text: 'Profile' }),
      h('dl', { class: 'kv' },
        h('dt', { text: 'Email' }), h('dd', { text: user.email }),
        h('dt', { text: 'Display name' }), h('dd', { text: user.displayName || '—' }),
        h('dt', { text: 'Role' }), h('dd', { text: user.isAdmin ? 'Administrator' : 'User' })),
      h('button', { type: 'button', class: 'button-quiet', text: 'Sign out', onClick: signOut })),
    h('section', { class: 'card', 'aria-labelledby': 'password-h' },
      h('h2', { id: 'password-h', text: 'Change password' }), pwForm),
    connectionsCard(),
    h('section', { class: 'card', 'aria-labelledby': 'devices-h' },
      h('h2', { id: 'devices-h', text: 'Where you are signed in' }), devicesStatus, devices)));
  loadDevices();
}
