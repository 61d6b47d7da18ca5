// The snapshot's budget slider (a Bokeh CustomJS body, loaded by snapshot_slider.py). It computes nothing:
// Python stored, for every slider position, each data-field text (as an index into the distinct texts),
// which KPI cards are hidden, how wide the bars are (percent) and where the marker Spans go. This finds the
// position and copies them.
// Arguments: slider, positions (one row per position), texts, divs (holding the markup), spans (markers).
const data = positions.data;
const budgets = data.budget;
let index = 0;
for (let i = 1; i < budgets.length; i++) {
  if (Math.abs(budgets[i] - slider.value) < Math.abs(budgets[index] - slider.value)) index = i;
}
const strings = texts.data.text;
for (const div of divs) {
  const view = Bokeh.index.find_one(div);
  if (view === null) continue;
  const root = view.shadow_el ?? view.el;
  for (const element of root.querySelectorAll("[data-field]")) {
    const column = data["text:" + element.dataset.field];
    if (column !== undefined) element.textContent = strings[column[index]];
  }
  for (const element of root.querySelectorAll("[data-bar]")) {
    const column = data["bar:" + element.dataset.bar];
    if (column !== undefined) element.style.width = column[index] + "%";
  }
  for (const element of root.querySelectorAll("[data-kpi]")) {
    const column = data["hidden:" + element.dataset.kpi];
    if (column !== undefined) element.hidden = Boolean(column[index]);
  }
}
for (const span of spans) span.location = data["marker:" + span.name][index];
