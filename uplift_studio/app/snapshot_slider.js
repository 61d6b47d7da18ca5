// The snapshot's budget slider (a Bokeh CustomJS body): recomputes every figure from the shipped tables,
// exactly as uplift_studio.core.budget.at_budget does. Loaded by snapshot.py; the names slider, config,
// tables, state and the markup targets are the CustomJS arguments.
const cfg = JSON.parse(config);
const budget = slider.value;

function decimal(a, digits, shift) {
  const exact = a.toFixed(100);
  const point = exact.indexOf(".");
  let whole = exact.slice(0, point) + exact.slice(point + 1, point + 1 + shift);
  const fraction = exact.slice(point + 1 + shift);
  let kept = whole + fraction.slice(0, digits);
  const rest = fraction.slice(digits);
  const half = rest[0] === "5" && !/[1-9]/.test(rest.slice(1));
  const up = rest[0] > "5" || (rest[0] === "5" && !half) || (half && Number(kept[kept.length - 1]) % 2 === 1);
  if (up) {
    const out = kept.split("");
    let i = out.length - 1;
    while (i >= 0 && out[i] === "9") { out[i] = "0"; i -= 1; }
    if (i < 0) out.unshift("1"); else out[i] = String(Number(out[i]) + 1);
    kept = out.join("");
  }
  let integer = kept.slice(0, kept.length - digits).replace(/^0+(?=\d)/, "");
  if (integer === "") integer = "0";
  return digits > 0 ? integer + "." + kept.slice(kept.length - digits) : integer;
}
function negative(x) { return x < 0 || Object.is(x, -0); }
function fixed(x, digits) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  return (negative(x) ? "-" : "") + decimal(Math.abs(x), digits, 0);
}
function group(text) {
  const parts = text.split(".");
  parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return parts.join(".");
}
function money(v, strict) {
  // strict: plots.format_money ("n/a" when not finite); else report._money, which formats nan as Python does
  if (strict && (v === null || !Number.isFinite(v))) return "n/a";
  const sign = v < 0 ? "-" : "";
  const a = Math.abs(v);
  if (a >= 1e6) return sign + "$" + group(fixed(a / 1e6, 2)) + "M";
  if (a >= 1e4) return sign + "$" + group(fixed(a / 1e3, 0)) + "k";
  return sign + "$" + group(fixed(a, 0));
}
function roi(v) { return v === null || !Number.isFinite(v) ? "n/a" : fixed(v, 2) + "x"; }
function percent(v, digits, signed) {
  if (v === null || !Number.isFinite(v)) return signed === "sentence" ? "+" + fixed(v, 0) + "%" : "n/a";
  const sign = negative(v) ? "-" : (signed ? "+" : "");
  return sign + decimal(Math.abs(v), digits, 2) + "%";
}
function escape(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
}

// the first index whose x is >= target; Curve._at and budget._interpolate clip it to [1, size - 1]
function upperIndex(xs, target) {
  let lo = 0, hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < target) lo = mid + 1; else hi = mid;
  }
  return lo;
}
function read(xs, ys, target, clamp) {
  const found = upperIndex(xs, target);
  // a stored depth returns the stored value: the one Analysis.at_budget computes there
  if (xs[found] === target) return ys[found];
  const upper = Math.min(Math.max(found, 1), xs.length - 1);
  const x0 = xs[upper - 1], x1 = xs[upper];
  let weight = (target - x0) / (x1 - x0);
  if (clamp) weight = Math.min(Math.max(weight, 0), 1);
  return ys[upper - 1] + weight * (ys[upper] - ys[upper - 1]);
}

function project(table) {
  const n = cfg.n, scale = cfg.scale, population = cfg.population;
  const depthAt = (contacts) => Math.min(Math.max(contacts / scale, 0), n);
  let contacts, spend, everyone;
  if (cfg.per_user_cost) {
    const reachable = read(table.cost, table.depth, budget / scale, true);
    contacts = Math.min(Math.floor(reachable * scale), population);
    spend = read(table.depth, table.cost, depthAt(contacts), false) * scale;
    if (spend > budget) {
      contacts -= 1;
      spend = read(table.depth, table.cost, depthAt(contacts), false) * scale;
    }
    everyone = budget >= cfg.total_cost * scale;
  } else {
    const unit = cfg.cost_per_contact;
    contacts = Math.min(Math.floor(budget / unit), population);
    if (contacts * unit > budget) contacts -= 1;
    spend = contacts * unit;
    everyone = budget >= population * unit;
  }
  const depth = depthAt(contacts);
  const revenue = read(table.depth, table.uplift, depth, false) * scale;
  const halfWidth = cfg.z95 * read(table.depth, table.se, depth, false) * scale;
  return {
    contacts: contacts, spend: spend, depth: depth, share_targeted: depth / n,
    incremental_revenue: revenue, ci_low: revenue - halfWidth, ci_high: revenue + halfWidth,
    incremental_conversions: table.conversions ? read(table.depth, table.conversions, depth, false) * scale : NaN,
    roi: spend > 0 ? revenue / spend : NaN, net: revenue - spend, contacted_everyone: everyone,
    true_incremental_revenue: table.truth ? read(table.depth, table.truth, depth, false) * scale : NaN,
  };
}

const results = {};
cfg.strategies.forEach((name, i) => {
  const data = sources[i].data;
  const column = (key) => (data[key] === undefined ? null : data[key]);
  results[name] = project({
    depth: column("depth"), uplift: column("uplift"), se: column("se"), conversions: column("conversions"),
    truth: column("truth"), cost: column("cost"),
  });
});

const uplift = results.uplift;
const probability = results.probability;
let lift = null;
if (uplift && probability && probability.incremental_revenue > 0) {
  lift = uplift.incremental_revenue / probability.incremental_revenue - 1;
} else if (uplift && probability && Number.isNaN(probability.incremental_revenue)) {
  lift = NaN;
}

const cards = [
  ["Extra revenue, uplift targeting", "incremental_revenue", money(uplift.incremental_revenue, true),
   '95% interval <span data-kpi="interval">' + money(uplift.ci_low, true) + " to " + money(uplift.ci_high, true) +
   "</span>"],
  ["Return on spend (ROI)", "roi", roi(uplift.roi),
   probability ? "probability targeting " + roi(probability.roi) : ""],
  ["Customers contacted", "contacts", group(String(uplift.contacts)),
   percent(uplift.share_targeted, 1, false) + " of the campaign"],
  ["Spend", "spend", money(uplift.spend, true), "budget " + money(budget, true)],
  ["Net (extra revenue - spend)", "net", money(uplift.net, true), "after paying for the contacts"],
  ["Lift over probability targeting", "lift", percent(lift, 1, true),
   probability ? "it brings " + money(probability.incremental_revenue, true) : ""],
];
kpis.text = '<div class="kpis">' + cards.map(([label, key, value, note]) =>
  '<div class="kpi"><div class="label">' + label + '</div><div class="value" data-kpi="' + key + '">' + value +
  '</div><div class="note">' + note + "</div></div>").join("") + "</div>";

const columns = ["contacts", "spend", "revenue", "interval", "roi", "net"].concat(cfg.has_truth ? ["truth"] : []);
const heads = ["Strategy", "Contacts", "Spend", "Extra revenue", "95% interval", "ROI", "Net"]
  .concat(cfg.has_truth ? ["True value"] : []);
const rows = cfg.strategies.map((name, i) => {
  const r = results[name];
  const figure = {
    contacts: group(String(r.contacts)), spend: money(r.spend, true), revenue: money(r.incremental_revenue, true),
    interval: money(r.ci_low, true) + " to " + money(r.ci_high, true), roi: roi(r.roi), net: money(r.net, true),
    truth: money(cfg.has_truth ? r.true_incremental_revenue : null, true),
  };
  return '<tr data-strategy="' + name + '"><td>' + cfg.labels[i] + "</td>" +
    columns.map((key) => "<td>" + figure[key] + "</td>").join("") + "</tr>";
});
table.text = '<table class="strategies"><thead><tr>' + heads.map((h) => "<th>" + h + "</th>").join("") +
  "</tr></thead><tbody>" + rows.join("") + "</tbody></table>";

// report.executive_sentence, word for word
let text = "Contacting the " + group(String(uplift.contacts)) + " customers the uplift model ranks highest costs " +
  money(uplift.spend, false) + " and brings an estimated " + money(uplift.incremental_revenue, false) +
  " of extra revenue (95% interval " + money(uplift.ci_low, false) + " to " + money(uplift.ci_high, false) +
  "), a return of " + fixed(uplift.roi, 1) + "x";
if (lift !== null) {
  text += ", against " + money(probability.incremental_revenue, false) + " (" + fixed(probability.roi, 1) +
    "x) when targeting those most likely to buy (" + percent(lift, 0, "sentence") + ")";
}
text += ".";
if (uplift.contacted_everyone) text += " The budget covers every customer, so every strategy contacts everyone.";
if (uplift.ci_low <= 0) {
  text += " The interval includes zero: the experiment cannot rule out that the campaign adds nothing.";
}
sentence.text = '<p class="sentence">' + escape(text) + "</p>";

if (curve_span !== null) curve_span.location = uplift.share_targeted;
frontier_span.location = budget;

const state_data = {strategy: cfg.strategies.slice(), budget: cfg.strategies.map(() => budget)};
for (const key of cfg.state_columns) {
  state_data[key] = cfg.strategies.map((name) => {
    const value = results[name][key];
    return typeof value === "boolean" ? value : Number(value);
  });
}
state.data = state_data;
