// The dashboard: six pages over the gateway's public API. Every choice lives in the URL (page, window, range,
// currency, as-of, owner, account, sort), so a link reproduces the view; the back button walks through them.
import { ApiProblem, apiKey, getJson, setApiKey, takeKeyFromFragment } from './api.js';
import { disposeAll, mrrSteps, pareto, ratioTrend, sparkline, waterfall } from './charts.js';
import { escapeHtml as h, formatInt, formatMoney, formatPercent, ownerLabel, toCsv, windowLabel } from './format.js';

const main = document.getElementById('main');
const form = document.getElementById('controls');
let info = null; // GET /v1/ledger: the range the book covers, its currencies, the default reporting currency
let generation = 0; // a newer navigation wins over a slower older one

function state() {
  const p = new URLSearchParams(location.search);
  return {
    page: p.get('page') || 'company',
    window: p.get('window') || 'quarter',
    from: p.get('from') || info?.defaultFrom,
    to: p.get('to') || info?.defaultTo,
    currency: (p.get('currency') || info?.currency || 'USD').toUpperCase(),
    asOf: p.get('asOf') || '',
    asOn: p.get('asOn') || '',
    owner: p.get('owner'),
    account: p.get('account'),
    on: p.get('on') || p.get('to') || info?.defaultTo,
    sort: p.get('sort') || 'openingMrr',
    dir: p.get('dir') || 'desc',
  };
}

/** Goes to a view: the URL changes first (pushState), then the page renders from it. */
export function navigate(changes, replace = false) {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) (v === null || v === undefined || v === '' ? p.delete(k) : p.set(k, v));
  const next = `${location.pathname}?${p}`;
  (replace ? history.replaceState : history.pushState).call(history, null, '', next);
  render();
}

const common = (s) => ({ currency: s.currency, asOfPosition: s.asOf });
const link = (changes, text) => {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) (v === null ? p.delete(k) : p.set(k, v));
  return `<a href="?${h(p.toString())}" data-nav>${h(text)}</a>`;
};

// ---- tables: every chart has one, every table a CSV download of the exact values (read back from its cells, so
// the file is always the table on screen) ----

// Rows of long tables not yet in the page, by table id. A book's owner may hold thousands of accounts: building all
// their cells up front keeps the page's numbers off screen for over a second, so a long table shows its first rows
// and the rest arrive on "Show all" or before a CSV download (which must carry every row). Each render collects its
// own (s.rest) and they replace these only when its page is the one shown.
const LONG_TABLE = 100;
let hidden = new Map();

function table(id, name, columns, rows, { caption = '', sortable = false, s = null, pinned = [], limit = Infinity, rowClass = () => '' } = {}) {
  const head = columns.map((c) => {
    if (!sortable || !c.sort) return `<th scope="col" data-col="${c.key}" class="${c.num ? 'num' : ''}">${h(c.label)}</th>`;
    const active = s.sort === c.key;
    const aria = active ? (s.dir === 'asc' ? 'ascending' : 'descending') : 'none';
    return `<th scope="col" data-col="${c.key}" class="${c.num ? 'num' : ''}" aria-sort="${aria}"><button type="button" data-sort="${c.key}">${h(c.label)}${active ? (s.dir === 'asc' ? ' ▲' : ' ▼') : ''}</button></th>`;
  }).join('');
  const body = (rs, cls) => rs.map((r) => `<tr class="${cls || rowClass(r)}">${columns.map((c) => {
    const raw = c.raw ? c.raw(r) : r[c.key];
    const shown = c.show ? c.show(r) : h(raw ?? '');
    return `<td data-col="${c.key}"${raw !== undefined && raw !== null ? ` data-value="${h(raw)}"` : ''} class="${c.num ? 'num' : ''}">${shown}</td>`;
  }).join('')}</tr>`).join('');
  const shown = rows.length > limit ? rows.slice(0, limit) : rows;
  if (shown !== rows) s.rest.set(id, () => body(rows.slice(limit), ''));
  const more = shown === rows ? '' : ` <span class="more" id="${id}-more">Showing ${formatInt(shown.length)} of ${formatInt(rows.length)} rows.
    <button type="button" data-more="${id}">Show all ${formatInt(rows.length)}</button></span>`;
  return `<div class="table-wrap"><table id="${id}" data-name="${h(name)}" data-rows="${rows.length}">${caption ? `<caption>${h(caption)}</caption>` : ''}<thead><tr>${head}</tr></thead>
    <tbody>${body(pinned, 'pinned')}${body(shown, '')}</tbody></table>
    <button type="button" class="csv" data-csv="${id}">Download CSV</button>${more}</div>`;
}

function showAll(id) {
  const rest = hidden.get(id);
  if (!rest) return;
  hidden.delete(id);
  document.getElementById(id).tBodies[0].insertAdjacentHTML('beforeend', rest());
  document.getElementById(`${id}-more`)?.remove();
}

const moneyCol = (key, label, currency, sign = 1) => ({ key, label, num: true, show: (r) => formatMoney(r[key], currency, sign) });
const pctCol = (key, label) => ({ key, label, num: true, show: (r) => formatPercent(r[key]) });
const intCol = (key, label) => ({ key, label, num: true, show: (r) => formatInt(r[key]) });

function downloadCsv(id) {
  const t = document.getElementById(id);
  if (!t) return;
  showAll(id);
  const header = [...t.tHead.rows[0].cells].map((c) => c.dataset.col);
  const rows = [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.dataset.value ?? ''));
  const blob = new Blob([toCsv(header, rows)], { type: 'text/csv' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `${t.dataset.name}.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---- shared pieces ----

const BRIDGE_LINES = [
  ['new', 'New', 1], ['expansion', 'Expansion', 1], ['contraction', 'Contraction', -1], ['churn', 'Churn', -1],
  ['reactivation', 'Reactivation', 1], ['transferIn', 'Transfers in', 1], ['transferOut', 'Transfers out', -1], ['fxImpact', 'FX impact', 1],
];

function bridgeSteps(row) {
  return [
    { key: 'openingMrr', label: 'Opening', value: Number(row.openingMrr), raw: row.openingMrr, total: true },
    ...BRIDGE_LINES.map(([key, label, sign]) => ({ key, label, value: sign * Number(row[key]), raw: row[key], sign })),
    { key: 'closingMrr', label: 'Closing', value: Number(row.closingMrr), raw: row.closingMrr, total: true },
  ];
}

function bridgeSection(id, row, currency, title) {
  if (!row) return `<section><h2>${h(title)}</h2><p class="muted">No MRR in this range.</p></section>`;
  const steps = bridgeSteps(row);
  const tbl = table(id, id, [
    { key: 'line', label: 'Line', raw: (r) => r.key, show: (r) => h(r.label) },
    { key: 'amount', label: 'Amount', num: true, raw: (r) => r.raw, show: (r) => formatMoney(r.raw, currency, r.sign ?? 1) },
  ], steps);
  return `<section><h2>${h(title)}</h2><div class="chart" data-chart="waterfall" data-for="${id}"></div>${tbl}</section>`;
}

function paretoSection(id, rows, currency, title) {
  if (!rows.length) return `<section><h2>${h(title)}</h2><p class="muted">No churn in this range.</p></section>`;
  const tbl = table(id, id, [
    { key: 'reason', label: 'Reason' }, moneyCol('mrrLost', 'MRR lost', currency), intCol('accounts', 'Logos'),
    pctCol('share', 'Share'), pctCol('cumulativeShare', 'Cumulative share'),
  ], rows);
  return `<section><h2>${h(title)}</h2><div class="chart" data-chart="pareto" data-for="${id}"></div>${tbl}</section>`;
}

function kpis(nrrRow, bridgeRow, currency) {
  const tile = (label, value, id) => `<div class="kpi"><div class="kpi-label">${h(label)}</div><div class="kpi-value" id="${id}">${value}</div></div>`;
  return `<div class="kpis">
    ${tile('NRR', formatPercent(nrrRow?.nrr), 'kpi-nrr')}${tile('GRR', formatPercent(nrrRow?.grr), 'kpi-grr')}
    ${tile('Opening MRR', formatMoney(bridgeRow?.openingMrr ?? '0', currency), 'kpi-opening')}
    ${tile('Closing MRR (all accounts)', formatMoney(bridgeRow?.closingMrr ?? '0', currency), 'kpi-closing')}
    ${tile('Churned logos', formatInt(bridgeRow?.accountsChurned ?? 0), 'kpi-churned')}</div>`;
}

function rangeNote(s, position) {
  const asOf = s.asOf ? ` · as known at position ${formatInt(Number(s.asOf))}${s.asOn ? ` (recorded by the end of ${h(s.asOn)})` : ''}` : '';
  return `<p class="note" id="range-note">${h(s.from)} to ${h(s.to)} (end exclusive) · in ${h(s.currency)} · ledger position ${formatInt(position)}${asOf}</p>`;
}

function ratesNote(rates) {
  if (!rates?.length) return '';
  const list = rates.map((r) => `1 ${h(r.currency)} = ${h(r.rate)} ${h(r.quoteCurrency)} on ${h(r.date)} (position ${r.position})`).join('; ');
  return `<details class="rates"><summary>Exchange rates used (${rates.length})</summary><p>${list}</p></details>`;
}

// ---- pages ----

async function companyPage(s) {
  const base = { from: s.from, to: s.to, groupBy: 'none', ...common(s) };
  const [trend, nrr, bridge, churn] = await Promise.all([
    getJson('/v1/nrr/windows', { window: s.window, ...base }),
    getJson('/v1/nrr', base),
    getJson('/v1/bridge', base),
    getJson('/v1/churn-reasons', { from: s.from, to: s.to, ...common(s) }),
  ]);
  const company = (rows) => rows.find((r) => r.ownerId === '*');
  const trendRows = trend.windows.map((w) => ({ window: windowLabel(w.from, w.to, s.window), from: w.from, to: w.to, ...company(w.rows) }));
  const c = s.currency;
  return {
    title: 'Company',
    html: `${rangeNote(s, nrr.position)}${kpis(company(nrr.rows), company(bridge.rows), c)}
      <section><h2>NRR and GRR by ${h(s.window)}</h2><div class="chart" data-chart="trend" data-for="company-trend"></div>
      ${table('company-trend', `nrr-by-${s.window}`, [
        { key: 'window', label: 'Window' }, { key: 'from', label: 'From' }, { key: 'to', label: 'To' },
        moneyCol('openingMrr', 'Cohort opening MRR', c), moneyCol('closingMrr', 'Cohort closing MRR', c), pctCol('nrr', 'NRR'), pctCol('grr', 'GRR'),
      ], trendRows)}</section>
      ${bridgeSection('company-bridge', company(bridge.rows), c, 'MRR bridge')}
      ${paretoSection('company-pareto', churn.rows, c, 'Churn by reason')}${ratesNote(bridge.rates)}`,
    charts: () => {
      chartFor('company-trend', (el) => ratioTrend(el, trendRows.map((r) => r.window), [
        { name: 'NRR', data: trendRows.map((r) => (r.nrr === null || r.nrr === undefined ? null : Number(r.nrr))) },
        { name: 'GRR', data: trendRows.map((r) => (r.grr === null || r.grr === undefined ? null : Number(r.grr))) },
      ]));
      drawBridge('company-bridge', company(bridge.rows), c);
      chartFor('company-pareto', (el) => pareto(el, churn.rows, c));
    },
  };
}

async function ownersPage(s) {
  const base = { from: s.from, to: s.to, groupBy: 'owner', ...common(s) };
  const [nrr, bridge, trend] = await Promise.all([
    getJson('/v1/nrr', base), getJson('/v1/bridge', base), getJson('/v1/nrr/windows', { window: s.window, ...base }),
  ]);
  const key = (id) => (id === null ? '\u0000' : id);
  const owners = new Map();
  const row = (id) => {
    if (!owners.has(key(id))) owners.set(key(id), { ownerId: id, openingMrr: '0', nrr: null, grr: null, churn: '0', accountsChurned: 0, accountsOpening: 0, trend: [] });
    return owners.get(key(id));
  };
  for (const r of nrr.rows) Object.assign(row(r.ownerId), { openingMrr: r.openingMrr, nrr: r.nrr, grr: r.grr, accountsOpening: r.accountsOpening });
  for (const r of bridge.rows) Object.assign(row(r.ownerId), { churn: r.churn, accountsChurned: r.accountsChurned, bridgeOpening: r.openingMrr });
  for (const [k, o] of owners) o.trend = trend.windows.map((w) => { const t = w.rows.find((r) => key(r.ownerId) === k); return t?.nrr === null || t?.nrr === undefined ? null : Number(t.nrr); });
  const all = [...owners.values()];
  const company = all.filter((o) => o.ownerId === '*');
  const rest = all.filter((o) => o.ownerId !== '*');
  const numeric = new Set(['openingMrr', 'nrr', 'grr', 'churn', 'accountsChurned', 'accountsOpening']);
  const dir = s.dir === 'asc' ? 1 : -1;
  rest.sort((a, b) => {
    if (!numeric.has(s.sort)) return dir * String(ownerLabel(a.ownerId)).localeCompare(String(ownerLabel(b.ownerId)));
    const x = a[s.sort] === null ? -Infinity : Number(a[s.sort]), y = b[s.sort] === null ? -Infinity : Number(b[s.sort]);
    return x === y ? String(ownerLabel(a.ownerId)).localeCompare(String(ownerLabel(b.ownerId))) : dir * (x - y);
  });
  const c = s.currency;
  const ownerCell = (r) => (r.ownerId === '*' ? 'Company' : link({ page: 'owner', owner: r.ownerId ?? '(unassigned)', sort: null, dir: null }, ownerLabel(r.ownerId)));
  return {
    title: 'Owners',
    html: `${rangeNote(s, nrr.position)}<section><h2>Owner leaderboard</h2>
      <p class="note">NRR and GRR of each owner's book on the range's first day (cohort); churned MRR and logos over every account they owned in the range (bridge). Select a column to sort.</p>
      ${table('owners', 'owners', [
        { key: 'ownerId', label: 'Owner', sort: true, show: ownerCell },
        { ...moneyCol('openingMrr', 'Opening MRR', c), sort: true }, { ...pctCol('nrr', 'NRR'), sort: true }, { ...pctCol('grr', 'GRR'), sort: true },
        { ...moneyCol('churn', 'Churned MRR', c), sort: true }, { ...intCol('accountsChurned', 'Churned logos'), sort: true },
        { ...intCol('accountsOpening', 'Accounts'), sort: true },
        { key: 'trend', label: `NRR by ${s.window}`, raw: (r) => r.trend.map((v) => (v === null ? '' : v)).join(' '), show: (r) => sparkline(r.trend) },
      ], rest, { sortable: true, s, pinned: company })}</section>`,
  };
}

async function ownerPage(s) {
  const id = s.owner === '(unassigned)' ? null : s.owner;
  const base = { from: s.from, to: s.to, groupBy: 'owner', ...common(s) };
  const [nrr, bridge, churn, accounts] = await Promise.all([
    getJson('/v1/nrr', base), getJson('/v1/bridge', base),
    id === null ? Promise.resolve({ rows: [] }) : getJson('/v1/churn-reasons', { from: s.from, to: s.to, ownerId: id, ...common(s) }),
    getJson('/v1/accounts', { from: s.from, to: s.to, ownerId: id ?? '', unassigned: id === null ? 'true' : '', asOfPosition: s.asOf }),
  ]);
  const mine = (rows) => rows.find((r) => r.ownerId === id);
  const c = s.currency;
  return {
    title: `Owner ${ownerLabel(id)}`,
    html: `<p class="crumbs">${link({ page: 'owners', owner: null }, '← Owners')}</p>${rangeNote(s, nrr.position)}
      ${kpis(mine(nrr.rows), mine(bridge.rows), c)}
      <p class="callout">${link({ page: 'deepdive' }, `Is this NRR ${ownerLabel(id)}'s doing? Deep dive →`)}</p>
      ${bridgeSection('owner-bridge', mine(bridge.rows), c, `MRR bridge of ${ownerLabel(id)}`)}
      ${paretoSection('owner-pareto', churn.rows, c, `Churn by reason, ${ownerLabel(id)}`)}
      <section><h2>Accounts</h2><p class="note">Accounts this owner held on the range's first day or its last; MRR in each account's own currency.</p>
      ${table('owner-accounts', `accounts-${id ?? 'unassigned'}`, [
        { key: 'accountId', label: 'Account', show: (r) => link({ page: 'account', account: r.accountId }, r.accountId) },
        { key: 'currency', label: 'Currency' },
        { key: 'openingOwnerId', label: 'Owner at start', show: (r) => h(ownerLabel(r.openingOwnerId)) },
        { key: 'openingMrr', label: 'MRR at start', num: true, show: (r) => formatMoney(r.openingMrr, r.currency || c) },
        { key: 'closingOwnerId', label: 'Owner at end', show: (r) => h(ownerLabel(r.closingOwnerId)) },
        { key: 'closingMrr', label: 'MRR at end', num: true, show: (r) => formatMoney(r.closingMrr, r.currency || c) },
      ], accounts.accounts, { limit: LONG_TABLE, s })}</section>${ratesNote(bridge.rates)}`,
    charts: () => { drawBridge('owner-bridge', mine(bridge.rows), c); chartFor('owner-pareto', (el) => pareto(el, churn.rows, c)); },
  };
}

async function accountPage(s) {
  const t = await getJson(`/v1/accounts/${encodeURIComponent(s.account)}/timeline`, { asOfPosition: s.asOf });
  const c = t.currency || s.currency;
  const points = t.movements.map((m) => [m.day, Number(m.mrrAfter)]);
  return {
    title: `Account ${s.account}`,
    html: `<p class="crumbs">${link({ page: 'owners', account: null }, '← Owners')}</p>
      <p class="note" id="range-note">Account ${h(t.accountId)} · currency ${h(t.currency || 'none yet')} · ledger position ${formatInt(t.position)}${s.asOf ? ` · as known at position ${formatInt(Number(s.asOf))}` : ''}</p>
      <section><h2>MRR over time</h2><div class="chart" data-chart="mrr" data-for="account-movements"></div>
      ${table('account-movements', `movements-${t.accountId}`, [
        { key: 'day', label: 'Day' }, { key: 'kind', label: 'Movement' },
        { key: 'amount', label: 'Amount', num: true, show: (m) => formatMoney(m.amount, c, m.kind === 'contraction' || m.kind === 'churn' ? -1 : 1) },
        moneyCol('mrrBefore', 'MRR before', c), moneyCol('mrrAfter', 'MRR after', c),
        { key: 'ownerId', label: 'Owner', show: (m) => (m.ownerId ? link({ page: 'owner', owner: m.ownerId, account: null }, m.ownerId) : '(unassigned)') },
        { key: 'churnReason', label: 'Churn reason' },
      ], t.movements)}</section>
      <section><h2>Owner history</h2>${table('account-owners', `owners-${t.accountId}`, [
        { key: 'from', label: 'From' }, { key: 'ownerId', label: 'Owner', show: (o) => (o.ownerId ? link({ page: 'owner', owner: o.ownerId, account: null }, o.ownerId) : '(unassigned)') },
      ], t.owners)}</section>
      <section><h2>Stored events</h2><p class="note">Every event of this account in the log, in position order; a reversed event is struck through and names the reversal.</p>
      ${table('account-events', `events-${t.accountId}`, [
        intCol('position', 'Position'), { key: 'recordedAt', label: 'Recorded' }, { key: 'type', label: 'Type' }, { key: 'eventId', label: 'Event id' },
        { key: 'effectiveDate', label: 'Effective' }, { key: 'detail', label: 'Detail' },
        { key: 'reversedBy', label: 'Reversed by', show: (e) => (e.reversedBy ? `<span class="reversed">reversed by ${h(e.reversedBy)}</span>` : '') },
      ], t.events, { rowClass: (e) => (e.reversedBy ? 'reversed-event' : '') })}</section>`,
    charts: () => chartFor('account-movements', (el) => mrrSteps(el, points, c)),
  };
}

// ---- is it the owner's doing (docs/insights.md) ----

const FUNCTION_LABELS = { product: 'Product', support: 'Support', sales: 'Sales', 'customer-success': 'Customer success', external: 'External', unknown: 'Unknown' };
const signedPercent = (v) => (v === null || v === undefined ? 'n/a' : `${Number(v) > 0 ? '+' : ''}${formatPercent(v)}`);

async function deepDivePage(s) {
  const id = s.owner === '(unassigned)' ? null : s.owner;
  const d = await getJson(`/v1/owners/${encodeURIComponent(s.owner ?? '')}/deep-dive`, { from: s.from, to: s.to, ...common(s) });
  const c = s.currency;
  const tile = (label, value, elId, cls = '') => `<div class="kpi ${cls}"><div class="kpi-label">${h(label)}</div><div class="kpi-value" id="${elId}">${value}</div></div>`;
  const interval = d.intervalLow === null ? 'n/a' : `${signedPercent(d.intervalLow)} to ${signedPercent(d.intervalHigh)}`;
  return {
    title: `Deep dive: ${ownerLabel(id)}`,
    html: `<p class="crumbs">${link({ page: 'owner' }, `← Owner ${ownerLabel(id)}`)}</p>${rangeNote(s, d.position)}
      <div class="kpis">
        ${tile('Actual NRR', formatPercent(d.actualNrr), 'dd-actual')}${tile('Expected from the book', formatPercent(d.expectedNrr), 'dd-expected')}
        ${tile('Difference (95% interval)', `${signedPercent(d.difference)}<div class="kpi-sub" id="dd-interval">${h(interval)}</div>`, 'dd-difference', d.ownerEffect ? 'flag' : '')}
        ${tile('Company NRR', formatPercent(d.companyNrr), 'dd-company')}${tile('Trailing 12 months', formatPercent(d.trailingTwelveMonthNrr), 'dd-trailing')}
        ${tile('Cohort accounts', formatInt(d.cohortAccounts), 'dd-accounts')}</div>
      <p class="verdict ${d.ownerEffect ? 'flag' : ''}" id="dd-verdict">${h(d.verdict)}</p>
      <p class="note">Expected: how the 50 most similar accounts of other owners (same fit, usage, size, tenure on ${h(s.from)}) kept their MRR, weighted by this owner's opening MRR. The interval includes the benchmark's own error (seed ${d.seed}, ${formatInt(d.bootstrap)} resamples).</p>
      <section><h2>MRR lost by responsible function</h2>
      ${table('dd-functions', `lost-by-function-${id ?? 'unassigned'}`, [
        { key: 'function', label: 'Function', show: (r) => h(FUNCTION_LABELS[r.function] ?? r.function) },
        moneyCol('mrr', 'MRR lost', c), intCol('logos', 'Logos'), pctCol('share', 'Share'),
        { key: 'controllableByOwner', label: 'Owner can influence', show: (r) => (r.controllableByOwner ? 'yes' : 'no') },
      ], d.lostByFunction)}</section>
      <section><h2>MRR lost by reason</h2>
      ${table('dd-reasons', `lost-by-reason-${id ?? 'unassigned'}`, [
        { key: 'reason', label: 'Reason' }, { key: 'label', label: 'Label' }, { key: 'function', label: 'Function', show: (r) => h(FUNCTION_LABELS[r.function] ?? r.function) },
        moneyCol('mrr', 'MRR lost', c), intCol('logos', 'Logos'), pctCol('share', 'Share'), pctCol('cumulativeShare', 'Cumulative'),
        { key: 'vitalFew', label: 'Vital few', show: (r) => (r.vitalFew ? '●' : '') },
      ], d.lostByReason)}</section>
      <section><h2>The book on ${h(s.from)}</h2><p class="note">Each feature's MRR-weighted average over this owner's cohort beside the company's.</p>
      ${table('dd-book', `book-${id ?? 'unassigned'}`, [
        { key: 'feature', label: 'Feature' },
        { key: 'owner', label: ownerLabel(id), num: true, show: (r) => h(Number(r.owner).toFixed(3)) },
        { key: 'company', label: 'Company', num: true, show: (r) => h(Number(r.company).toFixed(3)) },
      ], d.book)}</section>${ratesNote(d.rates)}`,
  };
}

async function riskPage(s) {
  const r = await getJson('/v1/health/scores', { date: s.on, top: 200, ...common(s) });
  const c = s.currency;
  return {
    title: 'At risk',
    html: `<p class="note" id="range-note">Accounts active at the start of ${h(r.date)} · in ${h(r.currency)} · ledger position ${formatInt(r.position)}${s.asOf ? ` · as known at position ${formatInt(Number(s.asOf))}` : ''}</p>
      <p class="note">Score: the chance of churn or contraction within ${r.horizonDays} days, from a model trained only on what was known by then. High risk: the top tenth (score ≥ ${formatPercent(r.highRiskFrom)}). Scored ${formatInt(r.accounts)} accounts; seed ${r.seed}.</p>
      <section><h2>MRR at risk by owner</h2>
      ${table('risk-owners', 'at-risk-by-owner', [
        { key: 'ownerId', label: 'Owner', show: (o) => (o.ownerId ? link({ page: 'deepdive', owner: o.ownerId }, o.ownerId) : '(unassigned)') },
        intCol('accounts', 'Accounts'), intCol('highRiskAccounts', 'High risk'), moneyCol('mrr', 'MRR', c), moneyCol('atRiskMrr', 'MRR at risk', c),
        moneyCol('expectedLossExposure', 'Expected exposure', c),
      ], r.owners)}</section>
      <section><h2>Riskiest accounts</h2>
      ${table('risk-accounts', 'riskiest-accounts', [
        { key: 'accountId', label: 'Account', show: (a) => link({ page: 'account', account: a.accountId }, a.accountId) },
        { key: 'ownerId', label: 'Owner', show: (a) => h(ownerLabel(a.ownerId)) },
        pctCol('score', 'Score'), { key: 'highRisk', label: 'High risk', show: (a) => (a.highRisk ? 'yes' : '') },
        { key: 'mrr', label: 'MRR', num: true, show: (a) => formatMoney(a.mrr, a.currency) }, moneyCol('mrrReporting', `MRR (${c})`, c),
      ], r.topAccounts, { limit: LONG_TABLE, s })}</section>${ratesNote(r.rates)}`,
  };
}

function chartFor(id, draw) {
  const el = main.querySelector(`[data-for="${id}"]`);
  if (el) draw(el);
}

function drawBridge(id, row, currency) {
  if (row) chartFor(id, (el) => waterfall(el, bridgeSteps(row), currency));
}

// ---- the frame: controls, key, errors ----

function syncControls(s) {
  for (const name of ['window', 'from', 'to', 'currency', 'asOf', 'asOn']) {
    const input = form.elements.namedItem(name);
    if (input && document.activeElement !== input) input.value = s[name] ?? '';
  }
  document.querySelectorAll('nav a[data-page]').forEach((a) => {
    const current = a.dataset.page === s.page || (a.dataset.page === 'owners' && (s.page === 'owner' || s.page === 'deepdive'));
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  });
}

function showProblem(e) {
  if (e instanceof ApiProblem && e.status === 401) return keyForm('This gateway needs an API key (reader role; an auditor key for as-of views).');
  const p = e instanceof ApiProblem ? e.problem : { title: 'The page failed', detail: String(e) };
  const hint = e instanceof ApiProblem && e.status === 403 && new URLSearchParams(location.search).get('asOf')
    ? '<p>As-of views need an auditor key: <button type="button" id="change-key">use another key</button></p>' : '';
  main.innerHTML = `<div class="problem" role="alert"><h2>${h(p.title || 'Error')}</h2><p>${h(p.detail || '')}</p>${p.type ? `<p class="muted">${h(p.type)}</p>` : ''}${hint}</div>`;
}

function keyForm(message) {
  main.innerHTML = `<form id="key-form" class="problem"><h2>API key</h2><p>${h(message)}</p>
    <label>Key <input name="key" type="password" autocomplete="off" required></label> <button type="submit">Use this key</button>
    <p class="muted">Kept in this browser tab only (session storage), sent as <code>Authorization: Bearer</code>.</p></form>`;
  main.querySelector('#key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    setApiKey(new FormData(ev.target).get('key'));
    info = null;
    render();
  });
}

const PAGES = { company: companyPage, owners: ownersPage, owner: ownerPage, account: accountPage, deepdive: deepDivePage, risk: riskPage };

async function render() {
  const mine = ++generation;
  document.body.dataset.state = 'loading';
  const started = performance.now();
  try {
    if (!info) info = await getJson('/v1/ledger');
    const s = { ...state(), rest: new Map() };
    syncControls(s);
    if (s.asOn && !s.asOf) { // "as known on" a date: the last position recorded before the next day began
      const at = await getJson('/v1/positions', { recordedBefore: s.asOn });
      navigate({ asOf: String(at.position) }, true);
      return;
    }
    const page = PAGES[s.page] ?? companyPage;
    const view = await page(s);
    if (mine !== generation) return;
    disposeAll();
    hidden = s.rest;
    // Every value interpolated into the page's markup went through escapeHtml.
    main.innerHTML = `<h1>${h(view.title)}</h1>${view.html}`;
    view.charts?.();
    document.title = `${view.title} · RevenueLedger`;
    document.body.dataset.state = 'ready';
    document.body.dataset.renderMs = String(Math.round(performance.now() - started));
  } catch (e) {
    if (mine !== generation) return;
    disposeAll();
    showProblem(e);
    document.body.dataset.state = 'error';
  }
}

form.addEventListener('change', (ev) => {
  const t = ev.target;
  if (t.name === 'asOn') navigate({ asOn: t.value, asOf: null });
  else if (t.name === 'asOf') navigate({ asOf: t.value, asOn: null });
  else if (t.name === 'currency') navigate({ currency: t.value.trim().toUpperCase() });
  else if (t.name) navigate({ [t.name]: t.value });
});
form.addEventListener('submit', (ev) => ev.preventDefault());
document.getElementById('latest').addEventListener('click', () => navigate({ asOf: null, asOn: null }));

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-nav], nav a[data-page]');
  if (a && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && ev.button === 0) {
    ev.preventDefault();
    if (a.dataset.page) navigate({ page: a.dataset.page, owner: null, account: null, sort: null, dir: null });
    else { history.pushState(null, '', a.getAttribute('href')); render(); }
    return;
  }
  const sort = ev.target.closest('button[data-sort]');
  if (sort) {
    const s = state();
    navigate({ sort: sort.dataset.sort, dir: s.sort === sort.dataset.sort && s.dir === 'desc' ? 'asc' : 'desc' });
    return;
  }
  const more = ev.target.closest('button[data-more]');
  if (more) showAll(more.dataset.more);
  const csv = ev.target.closest('button[data-csv]');
  if (csv) downloadCsv(csv.dataset.csv);
  if (ev.target.closest('#definitions-open')) document.getElementById('definitions').showModal();
  if (ev.target.closest('#definitions-close')) document.getElementById('definitions').close();
  if (ev.target.closest('#change-key')) keyForm('Paste another key.');
});

window.addEventListener('popstate', render);
takeKeyFromFragment();
if (!apiKey()) keyForm('Paste the reader key `ledger serve` printed (or open the link it printed).');
else render();
