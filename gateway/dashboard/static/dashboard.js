// The operators' dashboard: reads the KPI routes through the gateway with the caller's token.
// No data is built into the page; what a role may see is decided by the gateway's policy.
"use strict";

const LABELS = {
  zh: {
    title: "客户关系管理 · 指标看板", switch_language: "English", sign_in: "登录", sign_out: "退出",
    token: "访问令牌", dev_hint: "开发环境：用本地令牌登录", dev_sign_in: "本地登录",
    from: "开始", to: "结束", bucket: "周期", by: "细分", none: "无", apply: "应用",
    day: "日", week: "周", month: "月", drill: "明细", close: "关闭",
    trend: "趋势", breakdown: "细分对比", no_data: "无数据", loading: "加载中…",
    unavailable: "暂不可用", signed_in_as: "当前身份", bad_token: "令牌无效或已过期",
    show_list: "查看明细", rows: "条", target: "目标",
    area_customers: "客户", area_consent: "授权同意", area_service: "服务与满意度",
    area_churn: "流失与挽留", area_recommendation: "适当性与推荐", area_compliance: "合规风险",
    customers: "客户数", new_customers: "新增客户", churned_customers: "流失客户", churn_rate: "流失率",
    assets_under_management: "管理资产", high_risk_appetite_share: "高风险偏好占比",
    kyc_documents_expiring: "即将到期证件",
    active_consents: "有效授权", expiring_consents: "即将到期授权", granted_consents: "新增授权",
    revoked_consents: "撤回授权", decisions_permitted: "共享决策：允许", decisions_denied: "共享决策：拒绝",
    csat: "客户满意度 CSAT", nps: "净推荐值 NPS", ces: "客户费力度 CES", complaint_rate: "投诉率（每千客户）",
    sla_breach_rate: "SLA 超时率", mean_time_to_first_answer: "平均首次响应时长",
    mean_time_to_resolve: "平均解决时长", resolution_rate: "解决率", closed_loop_rate: "闭环率",
    reopen_rate: "重开率",
    customers_by_band: "各风险段客户", retention_treated: "挽留率（干预组）", retention_control: "挽留率（对照组）",
    lifetime_value: "客户终身价值", model_drift_psi: "模型漂移 PSI",
    suitability_mismatches: "适当性不匹配", overrides: "超风险购买确认", checks_pass: "适当性检查：通过",
    checks_warn: "适当性检查：警示", checks_block: "适当性检查：拦截", retention_uplift: "挽留提升",
    high_aml_risk_share: "高洗钱风险客户占比", enhanced_due_diligence: "强化尽职调查客户",
    screening_alerts_raised: "新增筛查警报", screening_alerts_undecided: "待决筛查警报",
    aml_reviews_overdue: "逾期反洗钱复核",
  },
  en: {
    title: "Bank CRM · KPI dashboard", switch_language: "中文", sign_in: "Sign in", sign_out: "Sign out",
    token: "Access token", dev_hint: "Development: sign in with a local token", dev_sign_in: "Local sign-in",
    from: "From", to: "To", bucket: "Bucket", by: "Breakdown", none: "None", apply: "Apply",
    day: "Day", week: "Week", month: "Month", drill: "Details", close: "Close",
    trend: "Trend", breakdown: "By breakdown", no_data: "No data", loading: "Loading…",
    unavailable: "Not available", signed_in_as: "Signed in as", bad_token: "The token is invalid or has expired",
    show_list: "Show the list", rows: "rows", target: "Target",
    area_customers: "Customers", area_consent: "Consent", area_service: "Service and satisfaction",
    area_churn: "Churn and retention", area_recommendation: "Suitability and recommendations",
    area_compliance: "Compliance risk",
    customers: "Customers", new_customers: "New customers", churned_customers: "Churned customers",
    churn_rate: "Churn rate", assets_under_management: "Assets under management",
    high_risk_appetite_share: "High risk appetite share", kyc_documents_expiring: "ID documents expiring",
    active_consents: "Active consents", expiring_consents: "Consents expiring", granted_consents: "Consents granted",
    revoked_consents: "Consents revoked", decisions_permitted: "Share decisions permitted",
    decisions_denied: "Share decisions denied",
    csat: "CSAT", nps: "NPS", ces: "CES", complaint_rate: "Complaints per 1,000 customers",
    sla_breach_rate: "SLA breach rate", mean_time_to_first_answer: "Mean time to first answer",
    mean_time_to_resolve: "Mean time to resolve", resolution_rate: "Resolution rate",
    closed_loop_rate: "Closed-loop rate", reopen_rate: "Reopen rate",
    customers_by_band: "Customers by risk band", retention_treated: "Retention (treated)",
    retention_control: "Retention (control)", lifetime_value: "Customer lifetime value",
    model_drift_psi: "Model drift (PSI)",
    suitability_mismatches: "Suitability mismatches", overrides: "Overrides acknowledged",
    checks_pass: "Suitability checks passed", checks_warn: "Suitability checks warned",
    checks_block: "Suitability checks blocked", retention_uplift: "Retention uplift",
    high_aml_risk_share: "High AML risk share", enhanced_due_diligence: "Under enhanced due diligence",
    screening_alerts_raised: "Screening alerts raised", screening_alerts_undecided: "Screening alerts awaiting a decision",
    aml_reviews_overdue: "AML reviews overdue",
  },
};

const state = {
  lang: localStorage.getItem("crm-dashboard-lang") || "zh",
  token: sessionStorage.getItem("crm-dashboard-token"),
  areas: [],
  reports: {},
  selected: {},  // area -> KPI name shown in its charts
  charts: {},
};

const $ = (id) => document.getElementById(id);
const t = (key) => LABELS[state.lang][key] ?? key;

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.title = t("title");
  if (state.areas.length) renderAll();
}

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (_) {
    return null;
  }
}

async function api(path) {
  const answer = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  const body = answer.headers.get("content-type")?.includes("json") ? await answer.json() : null;
  if (!answer.ok) throw Object.assign(new Error(body?.detail || answer.statusText), { status: answer.status });
  return body;
}

function formatValue(kpi, value) {
  if (value === null || value === undefined) return "—";
  const locale = state.lang === "zh" ? "zh-CN" : "en-GB";
  if (kpi.unit === "ratio") return `${(value * 100).toLocaleString(locale, { maximumFractionDigits: 1 })}%`;
  if (kpi.unit === "hours") return `${value.toLocaleString(locale, { maximumFractionDigits: 1 })} h`;
  return value.toLocaleString(locale, { maximumFractionDigits: 2 });
}

function query() {
  const params = new URLSearchParams({
    from: `${$("from").value}T00:00:00Z`,
    to: `${$("to").value}T00:00:00Z`,
    bucket: $("bucket").value,
  });
  return params;
}

async function loadAll() {
  const by = $("by").value;
  await Promise.all(state.areas.map(async (area) => {
    const params = query();
    const offered = state.reports[area.name]?.breakdowns || [];
    if (by && offered.includes(by)) params.set("by", by);
    try {
      state.reports[area.name] = await api(`${area.path}?${params}`);
    } catch (error) {
      state.reports[area.name] = { error: error.message };
    }
  }));
  renderAll();
}

function renderAll() {
  const root = $("areas");
  root.replaceChildren(...state.areas.map(renderArea));
  state.areas.forEach((area) => drawCharts(area.name));
}

function renderArea(area) {
  const report = state.reports[area.name];
  const box = document.createElement("section");
  box.className = "panel area";
  box.id = `area-${area.name}`;
  const title = document.createElement("h2");
  title.textContent = t(`area_${area.name}`);
  box.append(title);
  if (!report) { box.append(t("loading")); return box; }
  if (report.error) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = `${t("unavailable")}: ${report.error}`;
    box.append(p);
    return box;
  }
  const cards = document.createElement("div");
  cards.className = "cards";
  if (!state.selected[area.name]) state.selected[area.name] = report.kpis[0]?.name;
  for (const kpi of report.kpis) {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "card" + (state.selected[area.name] === kpi.name ? " selected" : "");
    card.dataset.kpi = kpi.name;
    card.dataset.value = kpi.value ?? "";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = t(kpi.name);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = formatValue(kpi, kpi.value);
    card.append(label, value);
    const target = area.targets?.[kpi.name];
    if (target) {
      // The bank's target: the card says whether the figure meets it (no figure: not judged).
      const mark = document.createElement("span");
      mark.className = "target";
      mark.textContent = `${t("target")} ${target.better === "higher" ? "≥" : "≤"} ${formatValue(kpi, target.value)}`;
      card.append(mark);
      if (kpi.value !== null && kpi.value !== undefined) {
        const met = target.better === "higher" ? kpi.value >= target.value : kpi.value <= target.value;
        card.dataset.onTarget = String(met);
        card.classList.add(met ? "on-target" : "off-target");
      }
    }
    card.addEventListener("click", () => { state.selected[area.name] = kpi.name; renderAll(); });
    if (kpi.drill) {
      const drill = document.createElement("a");
      drill.href = "#";
      drill.className = "drill";
      drill.textContent = t("show_list");
      drill.addEventListener("click", (event) => { event.preventDefault(); event.stopPropagation(); showDrill(kpi); });
      card.append(drill);
    }
    cards.append(card);
  }
  const charts = document.createElement("div");
  charts.className = "charts";
  for (const kind of ["trend", "breakdown"]) {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = t(kind);
    const canvas = document.createElement("canvas");
    canvas.id = `chart-${area.name}-${kind}`;
    figure.append(caption, canvas);
    charts.append(figure);
  }
  box.append(cards, charts);
  return box;
}

function drawCharts(areaName) {
  const report = state.reports[areaName];
  for (const chart of state.charts[areaName] || []) chart.destroy();
  state.charts[areaName] = [];
  if (!report || report.error || !window.Chart) return;
  const kpi = report.kpis.find((k) => k.name === state.selected[areaName]);
  if (!kpi) return;
  const trend = $(`chart-${areaName}-trend`);
  const breakdown = $(`chart-${areaName}-breakdown`);
  const options = { animation: false, responsive: true, plugins: { legend: { display: false } } };
  state.charts[areaName].push(new Chart(trend, {
    type: "line",
    data: { labels: kpi.series.map((p) => p.bucket), datasets: [{ label: t(kpi.name), data: kpi.series.map((p) => p.value) }] },
    options,
  }));
  state.charts[areaName].push(new Chart(breakdown, {
    type: "bar",
    data: { labels: kpi.breakdown.map((g) => g.key), datasets: [{ label: t(kpi.name), data: kpi.breakdown.map((g) => g.value) }] },
    options,
  }));
}

async function showDrill(kpi) {
  $("drill").hidden = false;
  $("drill-title").textContent = t(kpi.name);
  const body = $("drill-body");
  body.textContent = t("loading");
  try {
    const answer = await api(kpi.drill);
    const rows = Array.isArray(answer) ? answer : (answer.items || []);
    body.replaceChildren(table(rows.slice(0, 50)));
  } catch (error) {
    body.textContent = `${t("unavailable")}: ${error.message}`;
  }
}

function table(rows) {
  const element = document.createElement("table");
  if (!rows.length) { element.textContent = t("no_data"); return element; }
  const columns = Object.keys(rows[0]).filter((key) => typeof rows[0][key] !== "object" || rows[0][key] === null);
  const head = element.createTHead().insertRow();
  columns.forEach((column) => { const th = document.createElement("th"); th.textContent = column; head.append(th); });
  const tbody = element.createTBody();
  rows.forEach((row) => {
    const tr = tbody.insertRow();
    columns.forEach((column) => { tr.insertCell().textContent = row[column] ?? ""; });
  });
  return element;
}

async function signIn(token) {
  state.token = token;
  let areas;
  try {
    areas = await api("/dashboard/areas");
  } catch (error) {
    $("sign-in-error").textContent = error.status === 401 ? t("bad_token") : error.message;
    state.token = null;
    return;
  }
  sessionStorage.setItem("crm-dashboard-token", token);
  state.areas = areas;
  const who = claims(token);
  $("who").textContent = who ? `${t("signed_in_as")}: ${who.role} · ${who.sub}` : "";
  $("sign-in").hidden = true;
  $("board").hidden = false;
  $("sign-out").hidden = false;
  await loadAll();
  // The breakdowns each route offers come with its first answer.
  const breakdowns = [...new Set(Object.values(state.reports).flatMap((r) => r.breakdowns || []))];
  $("by").replaceChildren($("by").options[0], ...breakdowns.map((b) => new Option(b, b)));
}

function setDefaultWindow() {
  const end = new Date(Date.now() + 86400000);
  const start = new Date(end.getTime() - 30 * 86400000);
  $("to").value = end.toISOString().slice(0, 10);
  $("from").value = start.toISOString().slice(0, 10);
}

document.addEventListener("DOMContentLoaded", () => {
  setDefaultWindow();
  applyLanguage();
  $("language").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("crm-dashboard-lang", state.lang);
    applyLanguage();
  });
  $("use-token").addEventListener("click", () => signIn($("token").value.trim()));
  $("dev-go").addEventListener("click", async () => {
    const answer = await fetch("/dashboard/dev-sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ role: $("dev-role").value, subject: $("dev-subject").value }),
    });
    const body = await answer.json();
    if (!answer.ok) { $("sign-in-error").textContent = body.detail; return; }
    await signIn(body.token);
  });
  $("sign-out").addEventListener("click", () => { sessionStorage.removeItem("crm-dashboard-token"); location.reload(); });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); loadAll(); });
  $("drill-close").addEventListener("click", () => { $("drill").hidden = true; });
  if (state.token) signIn(state.token);
});
