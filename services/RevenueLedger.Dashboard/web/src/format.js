// Numbers for people. The exact decimal strings of the API stay in data-value attributes and in CSV downloads.
const money = new Map();
export function formatMoney(value, currency, sign = 1) {
  if (value === null || value === undefined) return '—';
  let f = money.get(currency);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: 2 });
    money.set(currency, f);
  }
  const n = Number(value) * sign;
  return f.format(Object.is(n, -0) ? 0 : n).replace('-', '−');
}

export function formatPercent(ratio) {
  if (ratio === null || ratio === undefined) return 'n/a';
  return `${(Number(ratio) * 100).toFixed(1)}%`;
}

export const formatInt = (n) => new Intl.NumberFormat('en-US').format(n);

export const ownerLabel = (id) => (id === '*' ? 'Company' : id === null ? '(unassigned)' : id);

export function windowLabel(from, to, kind) {
  const d = new Date(`${from}T00:00:00Z`);
  const y = d.getUTCFullYear();
  if (kind === 'year') return `${y}`;
  if (kind === 'quarter') return `${y} Q${Math.floor(d.getUTCMonth() / 3) + 1}`;
  if (kind === 'month') return `${y}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  return `${from} – ${to}`;
}

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

export function toCsv(header, rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}
