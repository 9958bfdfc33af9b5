// @ts-check
/**
 * The HTML report's page script: draws the charts with uPlot (inlined before it as the `uPlot`
 * global) from the results embedded in the page as JSON. Plain ES5-style script, no imports: it is
 * inlined as is into a self-contained page (src/report/html-report.ts reads it once per process).
 */
/** @typedef {import('./report-data').ReportData} ReportData */
/** @typedef {import('./report-data').HistoryPointView} HistoryPoint */
/** @typedef {import('./report-data').HistoryRowView} HistoryRow */
/** @typedef {import('./report-data').DrawnChart} DrawnChart */
/** @typedef {import('uplot').Series} Series */
/** @typedef {import('uplot').Axis} Axis */
/** @typedef {import('uplot').Options & { scales: import('uplot').Scales }} PlotOptions */
/** @typedef {[number[], ...(number | null)[][]]} Columns */
/**
 * @typedef {object} ChartExtra
 * @property {string} [xLabel]
 * @property {number[]} [xIncrs]
 * @property {Axis[]} [axes]
 * @property {import('uplot').Scales} [scales]
 * @property {import('uplot').Hooks.Arrays} [hooks]
 */
(function () {
  'use strict';
  var source = document.getElementById('fleetsim-data');
  /** @type {ReportData} */
  var data = JSON.parse(source ? source.textContent : '{}');
  var results = data.results;
  var history = (results && results.history) || [];
  /** @type {DrawnChart[]} */
  var drawn = [];
  /** @type {{ plot: uPlot, el: HTMLElement }[]} */
  var plots = [];
  window.__charts = drawn;
  var COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f'];
  /** @type {Record<string, number[]>} */
  var DASH = { p50: [], p95: [6, 4], p99: [2, 3] };

  /** @param {Columns} columns */
  function countPoints(columns) {
    var count = 0;
    for (var s = 1; s < columns.length; s++) {
      for (var i = 0; i < columns[s].length; i++) if (typeof columns[s][i] === 'number') count++;
    }
    return count;
  }

  /**
   * @param {string} id
   * @returns {HTMLElement | null}
   */
  function container(id) {
    return /** @type {HTMLElement | null} */ (document.querySelector('[data-chart="' + id + '"] .plot'));
  }

  /**
   * @param {string} id
   * @param {Series[]} series
   * @param {Columns} columns
   * @param {ChartExtra} extra
   */
  function draw(id, series, columns, extra) {
    var el = container(id);
    if (!el) return;
    var points = countPoints(columns);
    if (columns[0].length === 0 || points === 0) {
      el.innerHTML = '<div class="empty">No data recorded.</div>';
      drawn.push({ id: id, points: 0 });
      return;
    }
    /** @type {PlotOptions} */
    var opts = {
      width: Math.max(320, el.clientWidth),
      height: 260,
      scales: { x: { time: false } },
      series: /** @type {Series[]} */ ([extra.xLabel ? { label: extra.xLabel } : { label: 'time (s)', value: clockAt }]).concat(series),
      axes: /** @type {Axis[]} */ ([extra.xIncrs ? { label: extra.xLabel, incrs: extra.xIncrs } : { label: extra.xLabel || 'seconds since start' }]).concat(extra.axes || [{}]),
      hooks: extra.hooks || {},
      legend: { live: true },
    };
    if (extra.scales) for (var key in extra.scales) opts.scales[key] = extra.scales[key];
    try {
      var plot = new uPlot(opts, columns, el);
      plots.push({ plot: plot, el: el });
      drawn.push({ id: id, points: points, series: series.length });
    } catch (error) {
      el.textContent = 'Chart failed: ' + String(error);
      drawn.push({ id: id, points: 0, error: String(error) });
    }
  }

  var x = history.map(function (p) {
    return p.atS;
  });
  var startMs = results ? Date.parse(results.startedAt) : NaN;
  /** The hover legend's x: seconds since the start and the wall-clock time then. */
  /**
   * @param {uPlot} u
   * @param {number | null} seconds
   */
  function clockAt(u, seconds) {
    if (seconds === null || seconds === undefined) return '-';
    var at = isNaN(startMs) ? '' : ' (' + new Date(startMs + seconds * 1000).toLocaleTimeString() + ')';
    return seconds + ' s' + at;
  }
  /** Device counts are whole: an axis never shows 2.5 devices. */
  var WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000];
  /** @type {Record<string, boolean>} */
  var SETUP = { CONNECT: true, SUBSCRIBE: true };

  // The stub interval that closes a run spans milliseconds of shutdown: a rate or a busy share over
  // it is not a reading, so the charts of rates and of the generator leave it out.
  var fullS = history.length > 1 ? history[0].intervalS : 0;
  /** @param {HistoryPoint} p */
  function sampled(p) {
    return p !== history[history.length - 1] || p.intervalS >= fullS / 2;
  }

  function rps() {
    /** @type {Series[]} */
    var series = [
      { label: 'requests/s', stroke: COLORS[0], width: 2 },
      { label: 'failures/s', stroke: COLORS[1], width: 2 },
    ];
    /** @type {Columns} */
    var columns = [
      x,
      history.map(function (p) {
        return sampled(p) ? p.total.rps : null;
      }),
      history.map(function (p) {
        return sampled(p) ? p.total.failuresPerS : null;
      }),
    ];
    // What the fleet meant to send, beside what it sent: the gap is load that was not delivered.
    if (
      history.some(function (p) {
        return p.load;
      })
    ) {
      series.push({ label: 'offered/s', stroke: COLORS[2], width: 1.5, dash: [6, 4] });
      columns.push(
        history.map(function (p) {
          return p.load && sampled(p) ? p.load.offeredRps : null;
        }),
      );
    }
    draw('rps', series, columns, { axes: [{ label: 'per second' }] });
  }

  /** Every row (or type) seen in any interval, in first-seen order. */
  /**
   * @param {(p: HistoryPoint) => readonly HistoryRow[]} pick
   * @returns {{ key: string, label: string }[]}
   */
  function keysOf(pick) {
    /** @type {Record<string, boolean>} */
    var seen = {};
    /** @type {{ key: string, label: string }[]} */
    var keys = [];
    history.forEach(function (p) {
      pick(p).forEach(function (row) {
        var key = row.type + ' ' + row.name;
        if (!seen[key]) {
          seen[key] = true;
          keys.push({ key: key, label: row.type && row.name.indexOf(row.type + ' ') !== 0 ? row.type + ' ' + row.name : row.name });
        }
      });
    });
    return keys;
  }

  function latency() {
    latencyChart('latency', function (r) {
      return !SETUP[r.type];
    });
  }
  function setup() {
    latencyChart('setup', function (r) {
      return !!SETUP[r.type];
    });
  }
  /**
   * @param {string} id
   * @param {(row: HistoryRow) => boolean} wanted
   */
  function latencyChart(id, wanted) {
    /** @type {(p: HistoryPoint) => readonly HistoryRow[]} */
    var pick = function (p) {
      return p.rows.filter(wanted);
    };
    var rows = keysOf(pick);
    var note = document.querySelector('[data-chart="' + id + '"] p');
    // Past a handful of rows the lines would be unreadable: draw each type's aggregate instead.
    if (rows.length > 4) {
      pick = function (p) {
        return p.types.filter(wanted);
      };
      rows = keysOf(pick);
      if (note) note.textContent = 'p50 (solid), p95 (dashed), p99 (dotted) per type, in ms; rows without samples in an interval leave a gap.';
    }
    /** @type {Series[]} */
    var series = [];
    /** @type {Columns} */
    var columns = [x];
    rows.forEach(function (row, i) {
      /** @type {('p50' | 'p95' | 'p99')[]} */ (['p50', 'p95', 'p99']).forEach(function (q) {
        series.push({ label: row.label + ' ' + q, stroke: COLORS[i % COLORS.length], width: q === 'p50' ? 2 : 1.5, dash: DASH[q], spanGaps: false });
        columns.push(
          history.map(function (p) {
            var found = pick(p).filter(function (r) {
              return r.type + ' ' + r.name === row.key;
            })[0];
            return found ? found.latencyMs[q] : null;
          }),
        );
      });
    });
    if (!container(id)) return;
    draw(id, series, columns, { axes: [{ label: 'ms' }] });
    // Every attempt failed: no answer had a latency, and the empty chart says why.
    if (countPoints(columns) === 0 && results && results.total.requests > 0 && results.total.failures === results.total.requests)
      /** @type {HTMLElement} */ (container(id)).innerHTML = '<div class="empty">No answers: every attempt failed (see Failures).</div>';
  }

  function devices() {
    /** @type {Series[]} */
    var series = [
      { label: 'online', stroke: COLORS[2], width: 2 },
      { label: 'target', stroke: COLORS[3], width: 1.5, dash: [6, 4] },
    ];
    /** @type {Columns} */
    var columns = [
      x,
      history.map(function (p) {
        return p.devicesOnline;
      }),
      history.map(function (p) {
        return p.devicesTarget;
      }),
    ];
    // Device lifecycles: the devices the plan has on the network (awake, not rebooting or offline).
    if (
      history.some(function (p) {
        return p.devicesPlanned !== undefined;
      })
    ) {
      series.push({ label: 'planned online', stroke: COLORS[4], width: 1.5, dash: [2, 3] });
      columns.push(
        history.map(function (p) {
          return p.devicesPlanned === undefined ? null : p.devicesPlanned;
        }),
      );
    }
    draw('devices', series, columns, { axes: [{ label: 'devices', incrs: WHOLE }] });
  }

  function generator() {
    /** @param {uPlot} u */
    var shade = function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = 'rgba(220, 38, 38, 0.16)';
      history.forEach(function (p) {
        if (!p.saturated) return;
        var left = u.valToPos(p.atS - p.intervalS, 'x', true);
        var right = u.valToPos(p.atS, 'x', true);
        ctx.fillRect(left, u.bbox.top, Math.max(2, right - left), u.bbox.height);
      });
      ctx.restore();
    };
    draw(
      'generator',
      [
        { label: 'event loop busy %', stroke: COLORS[4], width: 2, scale: '%' },
        { label: 'lag p99 ms', stroke: COLORS[5], width: 1.5, scale: 'ms' },
      ],
      [
        x,
        history.map(function (p) {
          return sampled(p) ? p.generator.busyPercent : null;
        }),
        history.map(function (p) {
          return sampled(p) ? p.generator.lagP99Ms : null;
        }),
      ],
      {
        scales: { '%': { range: [0, 100] } },
        axes: [
          { scale: '%', label: 'busy %' },
          { scale: 'ms', side: 1, label: 'lag ms', grid: { show: false } },
        ],
        hooks: { drawClear: [shade] },
      },
    );
  }

  function capacity() {
    var steps = data.capacity && data.capacity.steps;
    if (!steps || !steps.length) return;
    var cx = steps.map(function (s) {
      return s.devices;
    });
    draw(
      'capacity',
      [
        { label: 'requests/s', stroke: COLORS[0], width: 2, scale: 'rps', points: { show: true } },
        { label: 'p95 ms', stroke: COLORS[1], width: 2, scale: 'ms', points: { show: true } },
      ],
      [
        cx,
        steps.map(function (s) {
          return s.rps;
        }),
        steps.map(function (s) {
          return s.latencyMs.p95;
        }),
      ],
      {
        xLabel: 'devices',
        xIncrs: WHOLE,
        axes: [
          { scale: 'rps', label: 'requests/s' },
          { scale: 'ms', side: 1, label: 'p95 ms', grid: { show: false } },
        ],
      },
    );
  }

  [rps, latency, setup, devices, generator, capacity].forEach(function (chart) {
    chart();
  });
  window.addEventListener('resize', function () {
    plots.forEach(function (entry) {
      entry.plot.setSize({ width: Math.max(320, entry.el.clientWidth), height: 260 });
    });
  });
  document.body.setAttribute('data-charts-ready', String(drawn.length));
})();
