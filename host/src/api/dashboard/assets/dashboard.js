// Cairn's dashboard: what a page does live. Every page works without this
// script (forms post and pages reload); with it:
// - a run's page follows the run (server-sent events) and puts its new
//   progress, steps and events in place without a reload;
// - forms are checked before they are sent (the schema's limits, JSON);
// - decisions are sent without leaving the page (the approval queue, a run);
// - buttons that cancel ask first.
'use strict';

function labelOf(field) {
  const label = field.id && document.querySelector(`label[for="${CSS.escape(field.id)}"]`);
  return label ? label.textContent.replace(/\s*\(.*\)\s*$/, '').trim() : field.name;
}

function slotOf(field) {
  const box = field.closest('.field') || field.form;
  return box ? box.querySelector('.field-error') : null;
}

function jsonProblem(field) {
  if (!field.value.trim()) return '';
  try {
    JSON.parse(field.value);
    return '';
  } catch (e) {
    return `not valid JSON (${e.message})`;
  }
}

// Checks every field of the form, says what is wrong beside each, and
// focuses the first; true when the form may be sent.
function validate(form) {
  let first = null;
  for (const slot of form.querySelectorAll('.field-error')) slot.textContent = '';
  for (const field of form.querySelectorAll('input, select, textarea')) {
    if (field.type === 'hidden') continue;
    field.setCustomValidity(field.hasAttribute('data-json') ? jsonProblem(field) : '');
    if (field.checkValidity()) {
      field.removeAttribute('aria-invalid');
      continue;
    }
    field.setAttribute('aria-invalid', 'true');
    const slot = slotOf(field);
    if (slot) slot.textContent = `${labelOf(field)}: ${field.validationMessage}`;
    first = first || field;
  }
  if (first) first.focus();
  return first === null;
}

// Sends a decision form and shows the answer in it; on the run's page the
// live parts then refresh.
async function decide(form, submitter) {
  // Read before the buttons are disabled: a disabled submitter is not sent.
  const body = new URLSearchParams(new FormData(form, submitter));
  const outcome = form.querySelector('.outcome');
  const buttons = form.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  outcome.classList.remove('error');
  outcome.textContent = 'Sending…';
  try {
    const response = await fetch(form.action, {
      method: 'POST',
      body,
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      outcome.textContent = answer.message || 'Recorded.';
      form.closest('.pending')?.classList.add('done');
      refreshRun?.();
      return;
    }
    for (const problem of answer.errors || []) {
      const field = form.querySelector(`[name="f.${CSS.escape(problem.path.replace(/^\//, ''))}"]`);
      if (field) {
        field.setAttribute('aria-invalid', 'true');
        const slot = slotOf(field);
        if (slot) slot.textContent = `${labelOf(field)}: ${problem.message}`;
      }
    }
    outcome.classList.add('error');
    outcome.textContent = answer.detail || answer.title || `Refused (${response.status}).`;
  } catch (e) {
    outcome.classList.add('error');
    outcome.textContent = `Not sent: ${e.message}. Try again.`;
  }
  buttons.forEach((b) => { b.disabled = false; });
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (!validate(form)) {
    event.preventDefault();
    return;
  }
  if (form.hasAttribute('data-decide')) {
    event.preventDefault();
    decide(form, event.submitter);
  }
});

// The script checks forms itself, to say what is wrong in the page.
function prepare(root) {
  for (const form of root.querySelectorAll('form')) form.noValidate = true;
}
prepare(document);

// A run's page: follow the run until it ends.
let refreshRun = null;
const live = document.getElementById('run-live');
if (live) {
  const action = document.getElementById('run-action');
  const announce = document.getElementById('announce');
  let source = null;
  let busy = false;
  let again = false;
  refreshRun = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const response = await fetch(live.dataset.panel, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
      });
      if (response.ok) {
        const panel = await response.json();
        const open = new Set([...live.querySelectorAll('details[open]')].map((d) => d.dataset.key));
        const closed = new Set([...live.querySelectorAll('details:not([open])')].map((d) => d.dataset.key));
        live.innerHTML = panel.live;
        for (const d of live.querySelectorAll('details[data-key]')) {
          if (open.has(d.dataset.key)) d.open = true;
          if (closed.has(d.dataset.key)) d.open = false;
        }
        if (action.dataset.key !== panel.action_key) {
          action.innerHTML = panel.action;
          action.dataset.key = panel.action_key;
          prepare(action);
        }
        if (announce && announce.dataset.status !== panel.status) {
          announce.dataset.status = panel.status;
          announce.textContent = `The run is ${panel.status}.`;
        }
        if (panel.ended) {
          live.dataset.ended = 'true';
          document.getElementById('cancel-run')?.remove();
          source?.close();
        }
      }
    } finally {
      busy = false;
      if (again) {
        again = false;
        refreshRun();
      }
    }
  };
  if (live.dataset.ended !== 'true') {
    source = new EventSource(live.dataset.live);
    source.onmessage = () => refreshRun();
    // The stream ends with the run; the browser would reconnect.
    source.onerror = () => {
      if (live.dataset.ended === 'true') source.close();
    };
  }
}
