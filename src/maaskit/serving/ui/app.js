// maaskit model market: plain JavaScript, no dependencies, nothing fetched from elsewhere.
// Every figure comes from the server's JSON endpoints, called with the key the user typed.
// The key lives in memory and sessionStorage (this tab only): never a cookie, never the URL.
// Everything the server returns is untrusted text: it is inserted with textContent only.
"use strict";

(function () {
  const KEY_STORE = "maaskit.apiKey";
  let apiKey = sessionStorage.getItem(KEY_STORE) || "";
  let modelsCache = [];
  let current = null; // {name, versions, can_promote, kind, signature}

  const $ = (id) => document.getElementById(id);

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (k === "text") node.textContent = v;
        else if (k === "class") node.className = v;
        else node.setAttribute(k, v);
      }
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  // ------------------------------------------------------------------ errors
  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error").textContent = "";
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = options || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (apiKey) headers.Authorization = "Bearer " + apiKey;
    let resp;
    try {
      resp = await fetch(path, {
        method: opts.method || "GET", headers, body: opts.body,
        credentials: "omit", cache: "no-store", redirect: "error",
      });
    } catch (err) {
      throw new ApiError(0, "The server cannot be reached (" + err.message + ").");
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (err) {
      body = null;
    }
    if (!resp.ok) {
      const msg = body && body.error && body.error.message ? body.error.message : "HTTP " + resp.status;
      throw new ApiError(resp.status, msg);
    }
    return body;
  }

  function report(err) {
    if (err instanceof ApiError && err.status === 401) {
      showError("Your API key was refused: " + err.message);
    } else if (err instanceof ApiError && err.status === 403) {
      showError("Not allowed: " + err.message);
    } else {
      showError(err.message || String(err));
    }
  }

  // ------------------------------------------------------------------ formatting
  const fmtNumber = (x) => (x === null || x === undefined ? "—" :
    (Math.abs(x) >= 1000 || Number.isInteger(x) ? String(x) : Number(x).toPrecision(4)));
  const fmtTime = (t) => (t ? new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "—");
  const enc = encodeURIComponent;

  function kindOf(signature) {
    const kind = (signature && signature.kind) || "unknown";
    if (kind === "tabular") return signature.classes && signature.classes.length ? "classifier" : "regressor";
    return kind;
  }

  function describeSignature(sig) {
    if (!sig || !sig.kind) return "—";
    if (sig.kind === "recommender") {
      return `users ${sig.user_datatype} (${sig.n_users}), items ${sig.item_datatype} (${sig.n_items})`;
    }
    if (sig.kind === "tabular") {
      const shape = sig.input_shape ? `shape [${sig.input_shape.join(", ")}]` : `${sig.n_features} features`;
      return `${shape} ${sig.datatype}` + (sig.classes ? `; classes ${sig.classes.join(", ")}` : "");
    }
    if (sig.kind === "text") return "text" + (sig.classes ? `; classes ${sig.classes.join(", ")}` : "");
    if (sig.kind === "word_vectors") return `${sig.n_words} words × ${sig.vector_size}`;
    return sig.kind;
  }

  // ------------------------------------------------------------------ key
  function setKey(value) {
    apiKey = value;
    if (value) sessionStorage.setItem(KEY_STORE, value);
    else sessionStorage.removeItem(KEY_STORE);
    $("key-forget").hidden = !value;
  }

  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("key-input").value.trim();
    $("key-input").value = "";
    if (!value) {
      showError("Enter an API key.");
      return;
    }
    if (!/^[\x21-\x7e]{1,256}$/.test(value)) {
      // A header cannot carry it anyway; say so rather than fail inside fetch.
      showError("An API key is printable ASCII without spaces (mk_<id>.<secret>).");
      return;
    }
    setKey(value);
    route();
  });

  $("key-forget").addEventListener("click", () => {
    setKey("");
    clearError();
    show("welcome");
  });

  // ------------------------------------------------------------------ views
  function show(view) {
    for (const id of ["welcome", "models-view", "model-view"]) $(id).hidden = id !== view;
  }

  function route() {
    clearError();
    if (!apiKey) {
      show("welcome");
      return;
    }
    const m = location.hash.match(/^#\/model\/(.+)$/);
    if (m) loadModel(decodeURIComponent(m[1])).catch(failed);
    else loadModels().catch(failed);
  }

  function failed(err) {
    report(err);
    if (err instanceof ApiError && err.status === 401) show("welcome");
  }

  // ------------------------------------------------------------------ models list
  let searchTimer = null;

  async function loadModels() {
    const params = new URLSearchParams();
    const search = $("search").value.trim();
    const tag = $("tag-filter").value.trim();
    if (search) params.set("search", search);
    if (tag) params.set("tag", tag);
    const qs = params.toString();
    const body = await api("/v1/models" + (qs ? "?" + qs : ""));
    modelsCache = body.models;
    fillKinds();
    renderModels();
    show("models-view");
    document.title = "Models · maaskit model market";
  }

  function fillKinds() {
    const select = $("kind-filter");
    const chosen = select.value;
    const kinds = [...new Set(modelsCache.map((m) => m.kind || "unknown"))].sort();
    select.replaceChildren(el("option", { value: "", text: "All kinds" }),
      ...kinds.map((k) => el("option", { value: k, text: k })));
    select.value = kinds.includes(chosen) ? chosen : "";
  }

  function renderModels() {
    const kind = $("kind-filter").value;
    const rows = modelsCache.filter((m) => !kind || m.kind === kind);
    const tbody = $("models-table").querySelector("tbody");
    tbody.replaceChildren(...rows.map((m) => {
      const aliases = Object.entries(m.aliases || {}).map(([a, v]) => el("span", { class: "pill", text: `${a} → v${v}` }));
      const metricEntries = Object.entries(m.metrics || {});
      const metric = metricEntries.length ? `${metricEntries[0][0]} ${fmtNumber(metricEntries[0][1])}` : "—";
      const tags = Object.entries(m.tags || {}).map(([k, v]) => el("span", { class: "tag", text: `${k}=${v}` }));
      return el("tr", { "data-model": m.name }, [
        el("td", null, [el("a", { href: "#/model/" + enc(m.name), class: "model-link", text: m.name }),
          el("div", { class: "tags" }, tags)]),
        el("td", { class: "kind", text: m.kind || "unknown" }),
        el("td", null, aliases.length ? aliases : ["—"]),
        el("td", { text: "v" + m.latest_version }),
        el("td", { class: "metric", text: metric }),
        el("td", { class: "muted when", text: fmtTime(m.updated) }),
      ]);
    }));
    $("models-empty").hidden = rows.length > 0;
  }

  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadModels().catch(failed), 250);
  });
  $("tag-filter").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadModels().catch(failed), 250);
  });
  $("kind-filter").addEventListener("change", renderModels);

  // ------------------------------------------------------------------ one model
  async function loadModel(name) {
    const body = await api("/v1/models/" + enc(name));
    const versions = body.versions;
    const live = versions.filter((v) => !v.archived);
    const shown = live.find((v) => v.aliases.includes("production")) || live[live.length - 1] || versions[versions.length - 1];
    current = { name, versions, can_promote: !!body.can_promote, signature: shown.signature, kind: kindOf(shown.signature) };
    document.title = name + " · maaskit model market";
    $("model-name").textContent = name;
    renderAliases();
    renderVersions();
    setupTry();
    setupPromote();
    $("try-result").replaceChildren();
    show("model-view");
    await loadHistory(name, shown.version);
  }

  function renderAliases() {
    const pairs = [];
    for (const v of current.versions) for (const a of v.aliases) pairs.push([a, v.version]);
    $("model-aliases").replaceChildren(...(pairs.length ?
      pairs.map(([a, v]) => el("span", { class: "pill", "data-alias": a, text: `${a} → v${v}` })) :
      [el("span", { class: "muted", text: "No alias yet." })]));
  }

  function renderVersions() {
    const metricNames = [...new Set(current.versions.flatMap((v) => Object.keys(v.metrics || {})))];
    const head = ["Version", "Published", ...metricNames, "Aliases", "SHA-256", "Signed", "Input signature"];
    const table = $("versions-table");
    table.querySelector("thead").replaceChildren(el("tr", null, head.map((h) => el("th", { text: h }))));
    table.querySelector("tbody").replaceChildren(...current.versions.slice().reverse().map((v) => {
      const signed = v.signed === true ? "signed" : v.signed === false ? "unsigned" : "—";
      return el("tr", { "data-version": String(v.version), class: v.archived ? "archived" : "" }, [
        el("td", null, [versionButton(v)]),
        el("td", { class: "muted when", text: fmtTime(v.created) }),
        ...metricNames.map((k) => el("td", { class: "num", text: fmtNumber((v.metrics || {})[k]) })),
        el("td", null, v.aliases.map((a) => el("span", { class: "pill", text: a }))),
        el("td", { class: "mono", title: v.sha256, text: v.sha256.slice(0, 12) + "…" }),
        el("td", { text: signed }),
        el("td", { class: "sig", text: describeSignature(v.signature) }),
      ]);
    }));
  }

  function versionButton(v) {
    // A version's number shows its learning curve.
    const b = el("button", { type: "button", class: "link", title: "Show the learning curve of v" + v.version,
      text: "v" + v.version + (v.archived ? " (archived)" : "") });
    b.addEventListener("click", () => loadHistory(current.name, v.version).catch(report));
    return b;
  }

  // ------------------------------------------------------------------ learning curve (SVG)
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  async function loadHistory(name, version) {
    const body = await api(`/v1/models/${enc(name)}/history?version=${enc(version)}`);
    $("curve-version").textContent = "(v" + body.version + ")";
    const series = Object.entries(body.history || {});
    const box = $("curves");
    if (!series.length) {
      box.replaceChildren(el("p", { class: "muted", text: "This version was published without a training history." }));
      return;
    }
    box.replaceChildren(...series.map(([label, values]) => drawCurve(label, values)));
  }

  function drawCurve(label, values) {
    const W = 480, H = 180, L = 52, R = 12, T = 14, B = 30;
    const finite = values.filter((x) => x !== null && Number.isFinite(x));
    let lo = Math.min(...finite), hi = Math.max(...finite);
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    const x = (i) => L + (values.length > 1 ? (i * (W - L - R)) / (values.length - 1) : (W - L - R) / 2);
    const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo);
    let d = "", pen = false;
    values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) { pen = false; return; }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " ";
      pen = true;
    });
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "curve", role: "img",
      "aria-label": `${label} per epoch`, "data-series": label });
    root.append(
      svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
      svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
      svg("path", { d: d.trim(), class: "line", "data-points": finite.length, fill: "none" }),
    );
    const text = (x0, y0, s, anchor) => {
      const t = svg("text", { x: x0, y: y0, "text-anchor": anchor || "start", class: "tick" });
      t.textContent = s;
      return t;
    };
    root.append(text(L - 6, T + 4, fmtNumber(hi), "end"), text(L - 6, H - B, fmtNumber(lo), "end"),
      text(L, H - 10, "1", "middle"), text(W - R, H - 10, String(values.length), "end"),
      text((L + W - R) / 2, H - 10, `${label} · epoch`, "middle"));
    finite.length <= 60 && values.forEach((v, i) => {
      if (v !== null && Number.isFinite(v)) root.append(svg("circle", { cx: x(i), cy: y(v), r: 2.5, class: "dot" }));
    });
    return el("figure", { class: "curve-figure" }, [root]);
  }

  // ------------------------------------------------------------------ try it
  function setupTry() {
    const kind = current.kind;
    const sig = current.signature || {};
    const recommender = kind === "recommender";
    $("try-n").hidden = !recommender;
    $("try-n-label").hidden = !recommender;
    $("try-input").value = "";
    if (recommender) {
      $("try-label").textContent = "User id";
      $("try-hint").textContent = `Top-n items for a user (ids are ${sig.user_datatype}; an unknown user gets the most popular items).`;
      $("try-input").rows = 1;
    } else if (kind === "text") {
      $("try-label").textContent = "Text";
      $("try-hint").textContent = "A sentence: the prediction and class probabilities.";
      $("try-input").rows = 3;
    } else {
      $("try-label").textContent = "Feature row";
      $("try-hint").textContent = `Numbers separated by commas (${sig.n_features || "?"} features).`;
      $("try-input").rows = 2;
    }
    $("try-card").hidden = !["recommender", "classifier", "regressor", "text"].includes(kind);
  }

  $("try-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearError();
    tryIt().catch(report);
  });

  async function tryIt() {
    const raw = $("try-input").value.trim();
    if (!raw) throw new Error("Try it: enter a value first.");
    const out = $("try-result");
    out.replaceChildren(el("p", { class: "muted", text: "Running…" }));
    if (current.kind === "recommender") {
      const n = Math.max(1, Math.min(100, parseInt($("try-n").value, 10) || 10));
      const body = await api(`/v1/recommend/${enc(raw)}?model=${enc(current.name)}&n=${n}`);
      const rows = body.items.map((item, i) => el("tr", null, [
        el("td", { text: String(i + 1) }), el("td", { class: "item", text: String(item) }),
        el("td", { class: "num", text: fmtNumber(body.scores[i]) })]));
      out.replaceChildren(
        el("p", { class: "muted", text: `v${body.version}` + (body.fallback ? " · unknown user: most popular items" : "") +
          (body.note ? " · " + body.note : "") }),
        el("table", { id: "try-table" }, [
          el("thead", null, [el("tr", null, [el("th", { text: "#" }), el("th", { text: "Item" }), el("th", { text: "Score" })])]),
          el("tbody", null, rows)]));
      return;
    }
    let instance;
    if (current.kind === "text") {
      instance = raw;
    } else {
      instance = raw.split(/[\s,;]+/).filter(Boolean).map(Number);
      if (instance.some((v) => !Number.isFinite(v))) throw new Error("Try it: the row must hold numbers only.");
    }
    const methods = (current.signature && current.signature.methods) || [];
    const pred = await api(`/v1/predict/${enc(current.name)}`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ instances: [instance], method: "predict" }) });
    const parts = [el("p", { class: "prediction" }, [el("span", { class: "muted", text: "Prediction: " }),
      el("strong", { id: "try-prediction", text: String(pred.predictions[0]) })])];
    if (methods.includes("predict_proba")) {
      const proba = await api(`/v1/predict/${enc(current.name)}`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ instances: [instance], method: "predict_proba" }) });
      const classes = current.signature.classes || proba.predictions[0].map((_, i) => String(i));
      parts.push(el("table", { id: "try-table" }, [
        el("thead", null, [el("tr", null, [el("th", { text: "Class" }), el("th", { text: "Probability" }), el("th")])]),
        el("tbody", null, proba.predictions[0].map((p, i) => {
          const bar = el("progress", { max: "1", value: String(p === null ? 0 : p) });
          return el("tr", null, [el("td", { text: String(classes[i]) }), el("td", { class: "num", text: fmtNumber(p) }),
            el("td", null, [bar])]);
        }))]));
    }
    out.replaceChildren(...parts);
  }

  // ------------------------------------------------------------------ promote
  function setupPromote() {
    $("promote-card").hidden = !current.can_promote;
    $("promote-confirm").hidden = true;
    $("promote-done").hidden = true;
    if (!current.can_promote) return;
    const live = current.versions.filter((v) => !v.archived).slice().reverse();
    $("promote-version").replaceChildren(...live.map((v) =>
      el("option", { value: String(v.version), text: "v" + v.version + (v.aliases.length ? " (" + v.aliases.join(", ") + ")" : "") })));
  }

  $("promote-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearError();
    const alias = $("promote-alias").value.trim();
    const version = $("promote-version").value;
    if (!alias) {
      showError("Promote: name the alias.");
      return;
    }
    const was = current.versions.find((v) => v.aliases.includes(alias));
    $("promote-question").textContent = `Point “${alias}” of ${current.name} at v${version}` +
      (was ? ` (now v${was.version})` : "") + "? Servers follow the alias at once.";
    $("promote-confirm").hidden = false;
    $("promote-done").hidden = true;
  });

  $("promote-no").addEventListener("click", () => { $("promote-confirm").hidden = true; });

  $("promote-yes").addEventListener("click", async () => {
    const alias = $("promote-alias").value.trim();
    const version = parseInt($("promote-version").value, 10);
    $("promote-confirm").hidden = true;
    try {
      await api(`/v1/models/${enc(current.name)}/aliases/${enc(alias)}`, {
        method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ version }) });
      const name = current.name;
      await loadModel(name);
      $("promote-done").textContent = `${alias} → v${version}`;
      $("promote-done").hidden = false;
    } catch (err) {
      report(err);
    }
  });

  // ------------------------------------------------------------------ start
  window.addEventListener("hashchange", route);
  setKey(apiKey);
  route();
})();
