// The live pipeline page: polls /pipeline/state every 2 s, draws the stages and two SVG charts.
"use strict";

(function () {
  const POLL_MS = 2000;
  const TOKEN_KEY = "todo-eda-staff-token";
  const SVG = "http://www.w3.org/2000/svg";
  const CHART = { width: 600, height: 200, left: 48, right: 10, top: 10, bottom: 24 };

  const statusEl = document.getElementById("status");
  const stagesEl = document.getElementById("stages");
  const workersEl = document.getElementById("workers");
  const tokenInput = document.getElementById("token");

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  document.getElementById("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const value = tokenInput.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    tokenInput.value = "";
    tokenInput.placeholder = value ? "token set for this tab" : "not needed on this machine";
    poll();
  });
  document.getElementById("token-clear").addEventListener("click", function () {
    sessionStorage.removeItem(TOKEN_KEY);
    tokenInput.placeholder = "not needed on this machine";
    poll();
  });
  if (token()) tokenInput.placeholder = "token set for this tab";

  function setStatus(text, state) {
    statusEl.textContent = text;
    statusEl.className = "status state-" + state;
    statusEl.dataset.state = state;
  }

  function formatRate(rate) {
    if (rate === null || rate === undefined) return "–";
    return (rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)) + "/s";
  }

  function stageBox(stage) {
    let box = stagesEl.querySelector('[data-stage="' + stage.id + '"]');
    if (!box) {
      box = document.createElement("li");
      box.dataset.stage = stage.id;
      box.innerHTML =
        '<h2 class="stage-name"></h2><span class="stage-state"></span>' +
        '<dl><dt>rate</dt><dd class="stage-rate"></dd><dt>lag</dt><dd class="stage-lag"></dd></dl>' +
        '<p class="stage-detail"></p>';
      stagesEl.appendChild(box);
    }
    return box;
  }

  function drawStage(stage) {
    const box = stageBox(stage);
    box.className = "stage state-" + stage.state;
    box.dataset.state = stage.state;
    box.querySelector(".stage-name").textContent = stage.name;
    box.querySelector(".stage-state").textContent = stage.state;
    box.querySelector(".stage-rate").textContent = formatRate(stage.rate);
    box.querySelector(".stage-lag").textContent = stage.lag === null ? "–" : String(stage.lag);
    box.querySelector(".stage-detail").textContent = stage.detail;
  }

  // Without an answer nothing is known: every box says so, keeping its last figures.
  function markUnknown(reason) {
    stagesEl.querySelectorAll(".stage").forEach(function (box) {
      box.className = "stage state-unknown";
      box.dataset.state = "unknown";
      box.querySelector(".stage-state").textContent = "unknown";
      box.querySelector(".stage-detail").textContent = reason;
    });
  }

  function svg(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) {
      element.setAttribute(key, attributes[key]);
    });
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    const steps = [1, 2, 2.5, 5, 10];
    for (let i = 0; i < steps.length; i++) {
      if (value <= steps[i] * power) return steps[i] * power;
    }
    return 10 * power;
  }

  function tickLabel(value) {
    if (value === 0) return "0";
    if (value >= 1000) return (value / 1000).toFixed(value >= 10000 ? 0 : 1) + "k";
    return value >= 10 ? value.toFixed(0) : String(Number(value.toPrecision(2)));
  }

  // One chart: each series a line broken where it has no value, over the last window.
  function drawChart(chart, times, series, end, windowSeconds) {
    while (chart.firstChild) chart.removeChild(chart.firstChild);
    const innerW = CHART.width - CHART.left - CHART.right;
    const innerH = CHART.height - CHART.top - CHART.bottom;
    const start = end - windowSeconds;
    let max = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v) {
        if (v !== null && v > max) max = v;
      });
    });
    const top = niceMax(max);
    const x = function (t) { return CHART.left + ((t - start) / windowSeconds) * innerW; };
    const y = function (v) { return CHART.top + innerH - (v / top) * innerH; };
    [0, 0.5, 1].forEach(function (f) {
      const v = top * f;
      chart.appendChild(svg("line", { class: "axis", x1: CHART.left, x2: CHART.width - CHART.right, y1: y(v), y2: y(v) }));
      chart.appendChild(svg("text", { class: "tick", x: CHART.left - 6, y: y(v) + 4, "text-anchor": "end" }, tickLabel(v)));
    });
    const minutes = Math.round(windowSeconds / 60);
    [[start, "-" + minutes + " min"], [start + windowSeconds / 2, "-" + minutes / 2 + " min"], [end, "now"]].forEach(function (tick) {
      chart.appendChild(svg("text", { class: "tick", x: x(tick[0]), y: CHART.height - 6, "text-anchor": "middle" }, tick[1]));
    });
    let drawn = 0;
    series.forEach(function (s) {
      let points = [];
      const flush = function () {
        if (points.length === 1) {
          chart.appendChild(svg("circle", { class: "line " + s.className, cx: points[0][0], cy: points[0][1], r: 1.5 }));
        } else if (points.length > 1) {
          chart.appendChild(svg("polyline", { class: "line " + s.className, points: points.map(function (p) { return p.join(","); }).join(" ") }));
        }
        drawn += points.length;
        points = [];
      };
      times.forEach(function (t, i) {
        const v = s.values[i];
        if (v === null || v === undefined || t < start) flush();
        else points.push([x(t).toFixed(1), y(v).toFixed(1)]);
      });
      flush();
    });
    if (drawn === 0) {
      chart.appendChild(svg("text", { class: "empty", x: CHART.width / 2, y: CHART.height / 2, "text-anchor": "middle" }, "no samples in this window yet"));
    }
  }

  function render(state) {
    state.stages.forEach(drawStage);
    const end = state.sampled_at || Date.now() / 1000;
    const h = state.history;
    drawChart(document.getElementById("latency-chart"), h.t,
      [{ values: h.latency_p50, className: "p50" }, { values: h.latency_p99, className: "p99" }],
      end, state.window_seconds);
    drawChart(document.getElementById("lag-chart"), h.t, [{ values: h.lag, className: "lag" }],
      end, state.window_seconds);
    workersEl.textContent = "Workers: " + state.workers.map(function (w) {
      return w.url + (w.self ? " (this one)" : "") + (w.answered ? "" : " – not answering");
    }).join(", ");
    const failed = state.stages.filter(function (s) { return s.state === "failed"; }).length;
    const age = state.sampled_at ? Math.max(0, Date.now() / 1000 - state.sampled_at) : null;
    const when = age === null ? "no sample yet" : "sampled " + age.toFixed(0) + " s ago";
    setStatus(when + (failed ? " · " + failed + " stage(s) failed" : " · every " + state.interval_seconds + " s"),
      failed ? "failed" : "ok");
  }

  async function poll() {
    const headers = { Accept: "application/json" };
    const staff = token();
    if (staff) headers.Authorization = "Bearer " + staff;
    let response;
    try {
      response = await fetch("/pipeline/state", { headers: headers, cache: "no-store" });
    } catch (error) {
      setStatus("The worker does not answer; retrying every 2 s.", "failed");
      markUnknown("worker not answering");
      return;
    }
    if (response.status === 401 || response.status === 403) {
      setStatus(
        (response.status === 401 ? "Not signed in: " : "This token is not a staff user's: ") +
          "paste a staff user's access token above to see the pipeline from another machine.",
        "failed");
      markUnknown("no access");
      return;
    }
    if (!response.ok) {
      setStatus("The worker answered " + response.status + "; retrying every 2 s.", "failed");
      markUnknown("worker answered " + response.status);
      return;
    }
    try {
      render(await response.json());
    } catch (error) {
      setStatus("The worker's answer could not be read; retrying every 2 s.", "failed");
      markUnknown("unreadable answer");
    }
  }

  function loop() {
    poll().finally(function () { setTimeout(loop, POLL_MS); });
  }
  loop();
})();
